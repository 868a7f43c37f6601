"""The UI handlers on a fake service: the chat stream, rollback, errors, feedback, admin actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from tests.ui.fakes import FakeService, answer, refusal

from rag.errors import QuestionError
from ui.feedback import FeedbackLog
from ui.handlers import (
    ADMIN_TOKEN_ERROR,
    admin_ingest,
    admin_refresh,
    admin_remove,
    admin_upload,
    chat,
    feedback,
)
from ui.render import ANSWER_FAILED, THINKING
from ui.turns import Turn

ADMIN_TOKEN = "s3cret-admin-令牌"


def no_progress(fraction: float, desc: str | None = None) -> None:
    pass


def run(svc: FakeService, question: str, messages: list | None = None, turns: list | None = None) -> list[tuple]:
    return list(chat(lambda: svc, question, messages or [], turns or [], 3, "extractive"))


def test_answer_streams_then_renders_with_sources() -> None:
    svc = FakeService(tokens=("能量", "密度<b>"))
    outputs = run(svc, "  电池的能量密度？  ")
    assert outputs[0][0][-1]["content"] == THINKING and outputs[0][1] == ""
    partials = [out[0][-1]["content"] for out in outputs[1:-1]]
    assert partials == [
        '<div class="rag-answer rag-streaming">能量</div>',
        '<div class="rag-answer rag-streaming">能量密度&lt;b&gt;</div>',
    ]
    messages, textbox, sources, turns = outputs[-1]
    assert textbox == "" and [m["role"] for m in messages] == ["user", "assistant"]
    assert messages[0]["content"] == "电池的能量密度？"
    assert 'class="rag-cite" href="#src-0-1"' in messages[1]["content"]
    assert 'id="src-0-1"' in sources and "<mark>" in sources and "<script" not in sources
    assert turns == [Turn.from_answer("电池的能量密度？", svc.result)]
    assert svc.calls == [{"question": "电池的能量密度？", "history": [], "k": 3, "mode": "extractive"}]


def test_a_follow_up_sends_the_history_and_keeps_both_turns() -> None:
    svc = FakeService()
    messages, _, _, turns = run(svc, "第一问")[-1]
    svc.result = answer("产量1200吨[1]。")
    messages, _, sources, turns = run(svc, "那第二问呢？", messages, turns)[-1]
    assert len(messages) == 4 and len(turns) == 2 and "1200吨" in messages[3]["content"]
    assert 'href="#src-1-1"' in messages[3]["content"]
    assert 'id="src-1-1"' in sources and 'id="src-0-1"' in sources
    assert svc.calls[1]["history"] == [
        {"role": "user", "content": "第一问"},
        {"role": "assistant", "content": "能量密度为420瓦时[1]。"},
    ]


def test_a_refusal_is_a_turn_with_its_related_passages() -> None:
    svc = FakeService(result=refusal())
    messages, _, _, turns = run(svc, "火星上有几只猫？")[-1]
    assert "rag-refusal" in messages[1]["content"] and turns[0].refused


def test_empty_question_adds_nothing() -> None:
    svc = FakeService()
    outputs = run(svc, "   ")
    assert outputs[-1][0] == [] and outputs[-1][3] == [] and svc.calls == []


def test_a_rejected_question_is_rolled_back() -> None:
    svc = FakeService()
    svc.error = QuestionError("问题过长")
    messages, textbox, _, turns = run(svc, "问" * 10)[-1]
    assert messages == [] and turns == [] and textbox == "问" * 10


def test_a_failure_while_answering_keeps_an_aligned_turn(caplog: pytest.LogCaptureFixture) -> None:
    svc = FakeService(tokens=("半",))
    svc.error = KeyError("bug")
    messages, textbox, sources, turns = run(svc, "问题")[-1]
    assert messages[-1]["content"] == ANSWER_FAILED and textbox == ""
    assert turns == [Turn.failed("问题", "extractive")] and "没有引用的段落" in sources
    assert "answering failed" in caplog.text


def test_service_still_loading_is_a_gradio_error() -> None:
    class Loading(Exception):
        message = "索引和模型正在加载"

    def loading() -> Any:
        raise Loading("503")

    with pytest.raises(gr.Error, match="正在加载"):
        list(chat(loading, "问题", [], [], 3, "extractive"))


def test_feedback_rates_the_turn_of_the_message(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    turns = [Turn("q0", answer="a0"), Turn("q1", answer="a1")]
    feedback(log, turns, gr.LikeData(None, {"index": 3, "value": "x", "liked": True}))
    feedback(log, turns, gr.LikeData(None, {"index": [1, 0], "value": "x", "liked": False}))
    feedback(log, turns, gr.LikeData(None, {"index": 9, "value": "x", "liked": True}))  # no such turn: ignored
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [(r["question"], r["rating"]) for r in rows] == [("q1", "up"), ("q0", "down")]


def test_admin_refresh_upload_and_remove(tmp_path: Path) -> None:
    svc = FakeService()
    table, choices = admin_refresh(lambda: svc)
    assert table == [["news.jsonl", 1, 2, 100]] and choices["choices"] == ["news.jsonl"]

    upload = tmp_path / "evil name<x>.md"
    upload.write_text("# 标题\n\n正文。", encoding="utf-8")
    seen: list[float] = []
    table, choices, status, cleared = admin_upload(lambda: svc, [str(upload)], lambda f, desc=None: seen.append(f))
    assert [row[0] for row in table] == ["evil_name_x_.md", "news.jsonl"]
    assert "已上传：evil_name_x_.md" in status and "完成：2 个文件" in status and cleared is None
    assert choices["choices"] == ["evil_name_x_.md", "news.jsonl"] and seen == [0.5, 1.0]

    table, _, status = admin_remove(lambda: svc, "evil_name_x_.md")
    assert [row[0] for row in table] == ["news.jsonl"] and status == "已删除：evil_name_x_.md"


def test_admin_reingest_reports_progress_and_a_busy_index() -> None:
    svc = FakeService()
    seen: list[tuple[float, str | None]] = []
    table, _, summary = admin_ingest(lambda: svc, lambda f, desc=None: seen.append((f, desc)))
    assert table and summary.startswith("完成：1 个文件") and seen == [(0.5, "embed"), (1.0, "done")]
    svc.documents.busy = True
    with pytest.raises(gr.Error, match="正在进行"):
        admin_ingest(lambda: svc, no_progress)


def test_admin_rejects_unsupported_files_and_missing_choices(tmp_path: Path) -> None:
    svc = FakeService()
    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(gr.Error, match="不支持"):
        admin_upload(lambda: svc, [str(exe)], no_progress)
    with pytest.raises(gr.Error, match="选择文件"):
        admin_upload(lambda: svc, [], no_progress)
    with pytest.raises(gr.Error, match="选择要删除"):
        admin_remove(lambda: svc, None)
    with pytest.raises(gr.Error, match="没有这个文件"):
        admin_remove(lambda: svc, "missing.txt")
    assert svc.documents.ingests == 0 and list(svc.documents.files) == ["news.jsonl"]


@pytest.mark.parametrize("token", [None, "", "wrong", ADMIN_TOKEN[:-1], ADMIN_TOKEN + " "])
def test_admin_handlers_refuse_a_missing_or_wrong_token(tmp_path: Path, token: str | None) -> None:
    calls: list[int] = []
    svc = FakeService()

    def getter() -> FakeService:  # counts how often a handler reached for the service
        calls.append(1)
        return svc

    upload = tmp_path / "intruder.md"
    upload.write_text("正文。", encoding="utf-8")
    guard = {"token": token, "required": ADMIN_TOKEN}
    with pytest.raises(gr.Error, match="管理口令错误") as refused:
        admin_refresh(getter, **guard)
    assert refused.value.message == ADMIN_TOKEN_ERROR
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_upload(getter, [str(upload)], no_progress, **guard)
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_ingest(getter, no_progress, **guard)
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_remove(getter, "news.jsonl", **guard)
    assert calls == [] and svc.documents.ingests == 0 and list(svc.documents.files) == ["news.jsonl"]


def test_admin_handlers_work_with_the_right_token() -> None:
    svc = FakeService()
    table, _ = admin_refresh(lambda: svc, token=ADMIN_TOKEN, required=ADMIN_TOKEN)
    assert [row[0] for row in table] == ["news.jsonl"]
