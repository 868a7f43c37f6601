"""The Gradio handlers on a real (small) service: chat turns, feedback log, admin actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import httpx
import pytest
from tests.ui.ui_support import XSS_QUESTION

from rag.api.app import create_app, running_server
from rag.config import Settings
from rag.index.store import current_version_dir
from rag.service import RagService
from ui.gradio_app import (
    ADMIN_TOKEN_ERROR,
    FeedbackLog,
    admin_ingest,
    admin_refresh,
    admin_remove,
    admin_upload,
    chat,
    feedback,
)

RESERVOIR = (
    "# 白鹭湾水库建成蓄水\n\n"
    "白鹭湾水库位于江西省北部山区，总库容为3.2亿立方米，于2019年建成蓄水。"
    "水库以防洪和灌溉为主，兼顾发电和城乡供水，设计灌溉面积约四十万亩。"
    "当地水利部门介绍，水库建成后下游十二个乡镇的防洪标准由十年一遇提高到五十年一遇。"
    "水库管理局表示，今后将加强库区生态保护，严格控制周边的农业面源污染。\n"
)


def no_progress(fraction: float, desc: str | None = None) -> None:
    pass


def run_chat(svc: RagService, question: str, messages: list, turns: list) -> tuple[Any, ...]:
    *_, last = chat(lambda: svc, question, messages, turns, 3, "extractive")
    return last


def test_chat_turn_renders_escaped_answer_and_sources(small_service: RagService) -> None:
    messages, textbox, sources, turns = run_chat(small_service, XSS_QUESTION, [], [])
    assert textbox == ""
    assert [m["role"] for m in messages] == ["user", "assistant"]
    bubble = messages[1]["content"]
    assert 'class="rag-cite" href="#src-0-1"' in bubble
    assert "&lt;img src=x" in bubble and "<img" not in bubble
    assert 'id="src-0-1"' in sources and "<mark>" in sources and "<script" not in sources
    assert turns[0]["question"] == XSS_QUESTION and turns[0]["citations"]


def test_second_turn_keeps_both_turns(small_service: RagService) -> None:
    messages, _, _, turns = run_chat(small_service, XSS_QUESTION, [], [])
    messages, _, sources, turns = run_chat(small_service, "请问青川县今年的春茶产量达到了多少吨？", messages, turns)
    assert len(messages) == 4 and len(turns) == 2
    assert "1200吨" in messages[3]["content"]
    assert 'id="src-1-1"' in sources and 'id="src-0-1"' in sources


def test_empty_question_adds_nothing(small_service: RagService) -> None:
    outputs = list(chat(lambda: small_service, "   ", [], [], 3, "extractive"))
    assert outputs[-1][0] == [] and outputs[-1][3] == []


def test_too_long_question_is_rolled_back(small_service: RagService) -> None:
    question = "问" * (small_service.settings.max_question_chars + 1)
    messages, textbox, _, turns = run_chat(small_service, question, [], [])
    assert messages == [] and turns == [] and textbox == question


def test_service_still_loading_is_a_gradio_error() -> None:
    def loading() -> RagService:
        raise RuntimeError("索引和模型正在加载")

    with pytest.raises(gr.Error, match="正在加载"):
        list(chat(loading, "问题", [], [], 3, "extractive"))


def test_feedback_is_appended_as_jsonl(tmp_path: Path, small_service: RagService) -> None:
    log = FeedbackLog(tmp_path / "runtime" / "feedback.jsonl")
    _, _, _, turns = run_chat(small_service, XSS_QUESTION, [], [])
    feedback(log, turns, gr.LikeData(None, {"index": 1, "value": "x", "liked": True}))
    feedback(log, turns, gr.LikeData(None, {"index": [1, 0], "value": "x", "liked": False}))
    feedback(log, turns, gr.LikeData(None, {"index": 9, "value": "x", "liked": True}))  # no such turn: ignored
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["up", "down"]
    assert rows[0]["question"] == XSS_QUESTION
    assert rows[0]["answer"] == turns[0]["answer"]
    assert rows[0]["citations"][0]["chunk_id"] == turns[0]["citations"][0]["chunk_id"]


def test_admin_upload_list_and_remove(tmp_path: Path, small_service: RagService) -> None:
    def getter() -> RagService:
        return small_service

    table, _ = admin_refresh(getter)
    assert [row[0] for row in table] == ["news.jsonl"]

    upload = tmp_path / "evil name<x>.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    table, choices, status, cleared = admin_upload(getter, [str(upload)], no_progress)
    names = [row[0] for row in table]
    stored = next(name for name in names if name != "news.jsonl")
    assert "/" not in stored and "<" not in stored and stored.endswith(".md")
    assert stored in status and cleared is None
    assert stored in choices["choices"]
    assert all(row[1] >= 1 and row[2] >= 1 for row in table)
    result = small_service.ask("白鹭湾水库总库容是多少？", mode="extractive")
    assert "3.2亿立方米" in result["answer"]

    table, _, status = admin_remove(getter, stored)
    assert [row[0] for row in table] == ["news.jsonl"] and stored in status


def test_admin_rejects_unsupported_files_and_missing_choices(tmp_path: Path, small_service: RagService) -> None:
    def getter() -> RagService:
        return small_service

    exe = tmp_path / "tool.exe"
    exe.write_bytes(b"MZ")
    with pytest.raises(gr.Error, match="不支持"):
        admin_upload(getter, [str(exe)], no_progress)
    with pytest.raises(gr.Error):
        admin_upload(getter, [], no_progress)
    with pytest.raises(gr.Error):
        admin_remove(getter, None)
    with pytest.raises(gr.Error, match="没有这个文件"):
        admin_remove(getter, "missing.txt")


def test_admin_reingest_reports_progress(small_service: RagService) -> None:
    seen: list[float] = []
    table, _, summary = admin_ingest(lambda: small_service, lambda f, desc=None: seen.append(f))
    assert table and "完成" in summary
    assert seen and seen[-1] == 1.0


def test_unreachable_llm_shows_the_fallback_notice(small_service: RagService) -> None:
    if small_service.settings.openai_base_url:
        pytest.skip("RAG_OPENAI_BASE_URL is set: mode 'openai' would call a real endpoint")
    *_, (messages, _, _, turns) = chat(lambda: small_service, XSS_QUESTION, [], [], 3, "openai")
    bubble = messages[-1]["content"]
    assert 'class="rag-notice rag-fallback"' in bubble and "抽取式" in bubble
    assert 'class="rag-cite"' in bubble and turns[0]["mode"] == "extractive"


ADMIN_TOKEN = "s3cret-admin-令牌"


def test_admin_token_falls_back_to_the_api_token() -> None:
    assert Settings(_env_file=None).required_admin_token == ""
    assert Settings(_env_file=None, api_token="api").required_admin_token == "api"
    assert Settings(_env_file=None, api_token="api", admin_token="adm").required_admin_token == "adm"


@pytest.mark.parametrize("token", [None, "", "wrong", ADMIN_TOKEN[:-1], ADMIN_TOKEN + " "])
def test_admin_handlers_refuse_a_missing_or_wrong_token(
    tmp_path: Path, small_service: RagService, token: str | None
) -> None:
    calls: list[int] = []

    def getter() -> RagService:  # counts how often a handler reached for the service
        calls.append(1)
        return small_service

    version = current_version_dir(small_service.index_dir)
    files_before = small_service.list_files()
    progress: list[float] = []
    upload = tmp_path / "intruder.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    guard = {"token": token, "required": ADMIN_TOKEN}

    with pytest.raises(gr.Error, match="管理口令错误") as refused:
        admin_refresh(getter, **guard)
    assert refused.value.message == ADMIN_TOKEN_ERROR
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_upload(getter, [str(upload)], lambda f, desc=None: progress.append(f), **guard)
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_ingest(getter, lambda f, desc=None: progress.append(f), **guard)
    with pytest.raises(gr.Error, match="管理口令错误"):
        admin_remove(getter, "news.jsonl", **guard)

    # Nothing happened: the service was never touched, no upload stored, no re-ingest, no removal.
    assert calls == [] and progress == []
    assert not (small_service.upload_dir / "intruder.md").exists()
    assert current_version_dir(small_service.index_dir) == version
    assert small_service.list_files() == files_before
    assert (small_service.settings.corpus_dir / "news.jsonl").exists()


def test_admin_handlers_work_with_the_right_token(tmp_path: Path, small_service: RagService) -> None:
    def getter() -> RagService:
        return small_service

    guard = {"token": ADMIN_TOKEN, "required": ADMIN_TOKEN}
    table, choices = admin_refresh(getter, **guard)
    assert [row[0] for row in table] == ["news.jsonl"] and choices["choices"] == ["news.jsonl"]

    upload = tmp_path / "reservoir.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    table, _, status, _ = admin_upload(getter, [str(upload)], no_progress, **guard)
    assert "reservoir.md" in [row[0] for row in table] and "已上传" in status
    assert "3.2亿立方米" in small_service.ask("白鹭湾水库总库容是多少？", mode="extractive")["answer"]

    seen: list[float] = []
    table, _, summary = admin_ingest(getter, lambda f, desc=None: seen.append(f), **guard)
    assert "完成" in summary and seen[-1] == 1.0

    table, _, status = admin_remove(getter, "reservoir.md", **guard)
    assert [row[0] for row in table] == ["news.jsonl"] and "已删除" in status


def call_ui(url: str, api_name: str, *data: Any) -> tuple[str, Any]:
    """One event through the mounted UI's HTTP API, as the browser's buttons send it."""
    with httpx.Client(base_url=f"{url}/ui/gradio_api", timeout=120) as client:
        started = client.post(f"/call/{api_name}", json={"data": list(data)})
        started.raise_for_status()
        stream = client.get(f"/call/{api_name}/{started.json()['event_id']}").text
    event = next(line.removeprefix("event: ") for line in stream.splitlines() if line.startswith("event: "))
    payload = next(line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: "))
    return event, json.loads(payload)


def admin_token_box(url: str) -> dict[str, Any]:
    config = httpx.get(f"{url}/ui/config", timeout=30).json()
    return next(c["props"] for c in config["components"] if c["props"].get("elem_id") == "rag-admin-token")


def test_mounted_ui_asks_for_the_token_and_checks_it(tmp_path: Path, small_service: RagService) -> None:
    settings = small_service.settings.model_copy(update={"admin_token": ADMIN_TOKEN, "data_dir": tmp_path})
    version = current_version_dir(small_service.index_dir)
    with running_server(create_app(small_service, settings=settings)) as url:
        box = admin_token_box(url)
        assert box["visible"] is True and box["type"] == "password" and box["label"] == "管理口令"

        for given in ("", "wrong"):
            event, data = call_ui(url, "admin_refresh", given)
            assert event == "error" and data["error"] == ADMIN_TOKEN_ERROR
        event, data = call_ui(url, "admin_reingest", "wrong")
        assert event == "error" and data["error"] == ADMIN_TOKEN_ERROR
        assert current_version_dir(small_service.index_dir) == version

        event, data = call_ui(url, "admin_refresh", ADMIN_TOKEN)
        assert event == "complete" and [row[0] for row in data[0]["data"]] == ["news.jsonl"]


def test_mounted_ui_without_a_token_keeps_the_admin_tab_open(tmp_path: Path, small_service: RagService) -> None:
    settings = small_service.settings.model_copy(update={"admin_token": "", "api_token": "", "data_dir": tmp_path})
    with running_server(create_app(small_service, settings=settings)) as url:
        assert admin_token_box(url)["visible"] is False
        event, data = call_ui(url, "admin_refresh", "")
        assert event == "complete" and [row[0] for row in data[0]["data"]] == ["news.jsonl"]
