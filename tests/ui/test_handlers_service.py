"""The UI handlers on a real (small) service: chat turns, feedback, admin actions on a real index."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr
import pytest
from tests.ui.ui_support import XSS_QUESTION

from rag.index.store import current_version_dir
from ui.admin_view import SkipLog
from ui.feedback import FeedbackLog
from ui.handlers import ADMIN_TOKEN_ERROR, admin_ingest, admin_refresh, admin_remove, admin_upload, chat, feedback

if TYPE_CHECKING:
    from rag.service import RagService

pytestmark = pytest.mark.slow

RESERVOIR = (
    "# 白鹭湾水库建成蓄水\n\n"
    "白鹭湾水库位于江西省北部山区，总库容为3.2亿立方米，于2019年建成蓄水。"
    "水库以防洪和灌溉为主，兼顾发电和城乡供水，设计灌溉面积约四十万亩。"
    "当地水利部门介绍，水库建成后下游十二个乡镇的防洪标准由十年一遇提高到五十年一遇。"
    "水库管理局表示，今后将加强库区生态保护，严格控制周边的农业面源污染。\n"
)
ADMIN_TOKEN = "s3cret-admin-令牌"


def no_progress(fraction: float, desc: str | None = None) -> None:
    pass


def run_chat(svc: RagService, question: str, messages: list, turns: list) -> tuple[Any, ...]:
    *_, last = chat(lambda: svc, question, messages, turns, 3, "extractive")
    return last


def file_names(svc: RagService) -> list[str]:
    return [f.file for f in svc.documents.list_files()]


def test_chat_turn_renders_escaped_answer_and_sources(small_service: RagService) -> None:
    messages, textbox, sources, turns = run_chat(small_service, XSS_QUESTION, [], [])
    assert textbox == gr.skip()  # cleared when the question was taken, not again
    assert [m["role"] for m in messages] == ["user", "assistant"]
    bubble = messages[1]["content"]
    assert 'class="rag-cite" href="#src-0-1"' in bubble
    assert "&lt;img src=x" in bubble and "<img" not in bubble
    assert 'id="src-0-1"' in sources and "<mark>" in sources and "<script" not in sources
    assert turns[0].question == XSS_QUESTION and turns[0].citations
    # The mark is the server's highlight, at the server's offsets.
    cited = turns[0].citations[0]
    start, end = cited.highlight_spans[0]
    assert "420瓦时" in cited.text[start:end]


def test_second_turn_keeps_both_turns(small_service: RagService) -> None:
    messages, _, _, turns = run_chat(small_service, XSS_QUESTION, [], [])
    messages, _, sources, turns = run_chat(small_service, "请问青川县今年的春茶产量达到了多少吨？", messages, turns)
    assert len(messages) == 4 and len(turns) == 2
    assert "1200吨" in messages[3]["content"]
    assert 'id="src-1-1"' in sources and 'id="src-0-1"' in sources


def test_too_long_question_is_rolled_back(small_service: RagService) -> None:
    question = "问" * (small_service.settings.max_question_chars + 1)
    messages, textbox, _, turns = run_chat(small_service, question, [], [])
    assert messages == [] and turns == [] and textbox == question


def test_feedback_is_appended_as_jsonl(tmp_path: Path, small_service: RagService) -> None:
    log = FeedbackLog(tmp_path / "runtime" / "feedback.jsonl")
    _, _, _, turns = run_chat(small_service, XSS_QUESTION, [], [])
    feedback(log, turns, gr.LikeData(None, {"index": 1, "value": "x", "liked": True}))
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["up"]
    assert rows[0]["question"] == XSS_QUESTION and rows[0]["answer"] == turns[0].answer
    assert rows[0]["citations"][0]["chunk_id"] == turns[0].citations[0].chunk_id


def test_unreachable_llm_shows_the_fallback_notice(small_service: RagService) -> None:
    if small_service.settings.openai_base_url:
        pytest.skip("RAG_OPENAI_BASE_URL is set: mode 'openai' would call a real endpoint")
    *_, (messages, _, _, turns) = chat(lambda: small_service, XSS_QUESTION, [], [], 3, "openai")
    bubble = messages[-1]["content"]
    assert 'class="rag-notice rag-fallback"' in bubble and "抽取式" in bubble
    assert 'class="rag-cite"' in bubble and turns[0].mode == "extractive"


def test_admin_upload_list_and_remove(tmp_path: Path, small_service: RagService) -> None:
    def getter() -> RagService:
        return small_service

    table, _, _ = admin_refresh(getter, SkipLog())
    assert [row[0] for row in table] == ["news.jsonl"]
    assert "青川县茶叶产业" in table[0][5]  # the file's article titles

    upload = tmp_path / "evil name<x>.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    table, choices, status = admin_upload(getter, [str(upload)], no_progress, SkipLog())
    names = [row[0] for row in table]
    stored = next(name for name in names if name != "news.jsonl")
    assert "/" not in stored and "<" not in stored and stored.endswith(".md")
    assert stored in status
    assert stored in choices["choices"]
    assert all(row[2] >= 1 and row[3] >= 1 for row in table)
    assert "3.2亿立方米" in small_service.ask("白鹭湾水库总库容是多少？", mode="extractive").answer

    table, _, status = admin_remove(getter, stored, SkipLog())
    assert [row[0] for row in table] == ["news.jsonl"] and stored in status


def test_a_short_note_is_indexed_and_an_empty_file_listed_with_its_reason(
    tmp_path: Path, small_service: RagService
) -> None:
    """Issue 13, defect 9: a two-sentence .md is ingested (it was "no text found after
    cleaning"); an empty file is listed as skipped, with the reason, and can be removed."""
    note = tmp_path / "tea-note.md"
    note.write_text("# 青川县茶园\n\n青川县今年新建茶园三千亩。茶园由当地合作社统一管理。\n", encoding="utf-8")
    blank = tmp_path / "blank.txt"
    blank.write_text("  \n", encoding="utf-8")
    skips = SkipLog()
    table, choices, status = admin_upload(lambda: small_service, [str(note), str(blank)], no_progress, skips)
    rows = {row[0]: row for row in table}
    assert rows["tea-note.md"][1] == "已索引" and rows["tea-note.md"][5] == "青川县茶园"
    assert rows["blank.txt"][1].startswith("已跳过：文件是空的") and "跳过 blank.txt" in status
    assert "blank.txt" in choices["choices"]
    assert "三千亩" in small_service.ask("青川县今年新建茶园多少亩？", mode="extractive").answer
    table, _, status = admin_remove(lambda: small_service, "blank.txt", skips)
    assert "blank.txt" not in [row[0] for row in table] and status == "已删除：blank.txt"
    admin_remove(lambda: small_service, "tea-note.md", skips)


def test_admin_rejects_a_file_that_is_not_there(small_service: RagService) -> None:
    with pytest.warns(UserWarning, match="没有这个文件"):
        _, _, status = admin_remove(lambda: small_service, "missing.txt", SkipLog())
    assert "没有这个文件" in status


def test_admin_reingest_reports_progress(small_service: RagService) -> None:
    seen: list[float] = []
    table, _, summary = admin_ingest(lambda: small_service, lambda f, desc=None: seen.append(f), SkipLog())
    assert table and "完成" in summary
    assert seen and seen[-1] == 1.0


@pytest.mark.parametrize("token", [None, "wrong"])
def test_a_refused_admin_action_changes_nothing(tmp_path: Path, small_service: RagService, token: str | None) -> None:
    index_dir = small_service.settings.index_dir
    version = current_version_dir(index_dir)
    files_before = file_names(small_service)
    upload = tmp_path / "intruder.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    guard = {"token": token, "required": ADMIN_TOKEN}

    skips = SkipLog()
    for call in (
        lambda: admin_upload(lambda: small_service, [str(upload)], no_progress, skips, **guard),
        lambda: admin_ingest(lambda: small_service, no_progress, skips, **guard),
        lambda: admin_remove(lambda: small_service, "news.jsonl", skips, **guard),
    ):
        with pytest.warns(UserWarning, match="管理口令错误"):
            assert call()[2] == ADMIN_TOKEN_ERROR

    assert not (Path(small_service.settings.data_dir) / "uploads" / "intruder.md").exists()
    assert current_version_dir(index_dir) == version
    assert file_names(small_service) == files_before
    assert (small_service.settings.corpus_dir / "news.jsonl").exists()


def test_admin_handlers_work_with_the_right_token(tmp_path: Path, small_service: RagService) -> None:
    def getter() -> RagService:
        return small_service

    guard = {"token": ADMIN_TOKEN, "required": ADMIN_TOKEN}
    skips = SkipLog()
    table, choices, _ = admin_refresh(getter, skips, **guard)
    assert [row[0] for row in table] == ["news.jsonl"] and choices["choices"] == ["news.jsonl"]

    upload = tmp_path / "reservoir.md"
    upload.write_text(RESERVOIR, encoding="utf-8")
    table, _, status = admin_upload(getter, [str(upload)], no_progress, skips, **guard)
    assert "reservoir.md" in [row[0] for row in table] and "已上传" in status
    assert "3.2亿立方米" in small_service.ask("白鹭湾水库总库容是多少？", mode="extractive").answer

    seen: list[float] = []
    table, _, summary = admin_ingest(getter, lambda f, desc=None: seen.append(f), skips, **guard)
    assert "完成" in summary and seen[-1] == 1.0

    table, _, status = admin_remove(getter, "reservoir.md", skips, **guard)
    assert [row[0] for row in table] == ["news.jsonl"] and "已删除" in status
