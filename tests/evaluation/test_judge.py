"""The optional LLM judge: prompt, reply parsing, failures, settings."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import httpx
import openai
import pytest

from rag.evaluation.judge import (
    Judge,
    JudgeSettings,
    citation_prompt,
    judge_prompt,
    parse_citation_reply,
    parse_judge_reply,
)


class FakeClient:
    """An OpenAI-compatible client that returns one canned reply (or raises)."""

    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self.create))

    def create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if isinstance(self.reply, Exception):
            raise self.reply
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=self.reply))])


def test_parse_judge_reply() -> None:
    assert parse_judge_reply('好的。{"score": 0.5, "reason": "部分正确"}') == (0.5, "部分正确")
    assert parse_judge_reply("score: 1") == (1.0, "")
    assert parse_judge_reply('{"score": 3}') == (1.0, "")  # clamped
    assert parse_judge_reply("无法判断") is None


def test_prompt_holds_the_three_texts_unescaped() -> None:
    prompt = judge_prompt("会议在哪里？", "北京", "<b>在北京</b>")
    assert prompt.startswith("你是严格的阅卷人。")
    assert '{"score": 1, "reason": "……"}' in prompt
    assert prompt.endswith("问题：会议在哪里？\n参考答案：北京\n待评回答：<b>在北京</b>")


def test_judge_scores_with_fake_client() -> None:
    client = FakeClient('{"score": 1, "reason": "一致"}')
    assert Judge(client, "judge").score("问", "北京", "在北京") == 1.0
    call = client.calls[0]
    assert call["model"] == "judge" and call["temperature"] == 0
    assert "北京" in call["messages"][0]["content"]


def test_endpoint_failure_or_unreadable_reply_is_no_verdict() -> None:
    down = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    assert Judge(FakeClient(down), "j").score("问", "北京", "在北京") is None
    assert Judge(FakeClient("胡言乱语"), "j").score("问", "北京", "在北京") is None


def test_a_bug_is_not_swallowed() -> None:
    with pytest.raises(TypeError):
        Judge(FakeClient(TypeError("bug")), "j").score("问", "北京", "在北京")


def test_judge_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("RAG_JUDGE_MODEL", raising=False)
    monkeypatch.chdir("/")  # no .env here
    assert Judge.from_settings(JudgeSettings()) is None
    monkeypatch.setenv("RAG_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RAG_JUDGE_MODEL", "qwen")
    s = JudgeSettings()
    assert s.enabled and s.judge_model == "qwen"
    judge = Judge.from_settings(s)
    assert judge is not None and judge.model == "qwen"
    assert isinstance(judge.client, openai.OpenAI)


def test_citation_verdicts() -> None:
    assert parse_citation_reply('{"supported": true, "reason": "有依据"}') is True
    assert parse_citation_reply('supported: false') is False
    assert parse_citation_reply('{"supported": "maybe"}') is None
    prompt = citation_prompt("净流入170亿美元[1]。", "<p>段落</p>")
    assert prompt.endswith("回答句子：净流入170亿美元[1]。\n引用段落：<p>段落</p>")
    assert Judge(FakeClient('{"supported": true}'), "j").supports("句子", "段落") is True
    down = openai.APIConnectionError(request=httpx.Request("POST", "http://127.0.0.1:9/v1/chat/completions"))
    assert Judge(FakeClient(down), "j").supports("句子", "段落") is None
    assert Judge(FakeClient("不知道"), "j").supports("句子", "段落") is None
