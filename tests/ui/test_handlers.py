"""The UI handlers on a fake service: the chat stream, rollback, errors, feedback, admin actions."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import gradio as gr
import pytest
from tests.ui.fakes import FakeService, answer, citation, passage, refusal

from rag.errors import QuestionError
from ui.feedback import FeedbackLog
from ui.admin_view import INDEXED, SkipLog
from ui.handlers import (
    ADMIN_TOKEN_ERROR,
    admin_ingest,
    admin_refresh,
    admin_remove,
    admin_upload,
    chat,
    examples_for,
    feedback,
    knowledge_base,
    regenerate,
    stopped,
)
from ui.render import ANSWER_FAILED, STOPPED_NOTICE, THINKING
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
    assert textbox == gr.skip() and [m["role"] for m in messages] == ["user", "assistant"]
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


def test_text_typed_while_the_answer_streams_is_not_wiped() -> None:
    """Issue 13, defect 8: only the first update clears the textbox; every later one skips it."""
    svc = FakeService(tokens=("甲", "乙"), sources=[passage()])
    outputs = run(svc, "问题")
    assert outputs[0][1] == ""
    assert all(out[1] == gr.skip() for out in outputs[1:]), [out[1] for out in outputs]


def test_sources_show_as_soon_as_retrieval_is_done() -> None:
    """The early "sources" event fills the panel before any token; the final answer then
    marks the cited passage and dims the other retrieved one."""
    other = passage("另一段<script>x</script>", chunk_id="p2", title="别的文章")
    svc = FakeService(tokens=("能量",), sources=[citation(), other])
    svc.result = answer(retrieved=[citation(), other])
    outputs = run(svc, "能量密度？")
    early = outputs[1]
    assert early[0][-1]["content"] == THINKING  # no token yet
    assert "已检索到 2 个段落" in early[2] and 'id="ret-0-1"' in early[2] and 'id="ret-0-2"' in early[2]
    assert "&lt;script&gt;" in early[2] and "<script>" not in early[2]
    final_sources = outputs[-1][2]
    assert 'class="rag-src rag-cited" id="src-0-1"' in final_sources
    assert 'class="rag-src rag-uncited" id="oth-0-1"' in final_sources and "别的文章" in final_sources
    assert final_sources.count("rag-uncited\"") == 1


def test_closing_the_chat_closes_the_answer_stream() -> None:
    """What Gradio's cancels= does on stop: the service's generator is closed, so the LLM
    request under it ends too."""
    svc = FakeService(tokens=("甲", "乙", "丙"))
    stream = chat(lambda: svc, "问题", [], [], 3, "extractive")
    next(stream), next(stream)  # the question taken, the first token shown
    stream.close()
    assert svc.closed == 1


def test_a_stopped_answer_becomes_a_turn_marked_as_stopped() -> None:
    svc = FakeService(tokens=("能量<b>", "密度"), sources=[passage()])
    found: list = []
    outputs = list(chat(lambda: svc, "问<题>\n二", [], [], 3, "extractive", found.extend))
    assert found == [passage()]
    streaming = outputs[3][0]  # the bubble after the second token
    messages, sources, turns = stopped(streaming, [], found)
    assert turns == [Turn.stopped_early("问<题>\n二", "能量<b>密度", [passage()])]
    assert 'id="ret-0-1"' in sources  # the retrieved passages stay listed
    assert "能量&lt;b&gt;密度" in messages[-1]["content"] and STOPPED_NOTICE in messages[-1]["content"]
    assert "rag-streaming" not in messages[-1]["content"]
    assert stopped(messages, turns) == (messages, sources, turns)  # pressed again: nothing streams
    # As the browser sends the chat back (Gradio 6): each content a list of text parts.
    as_parts = [{**m, "content": [{"type": "text", "text": m["content"]}]} for m in streaming]
    assert stopped(as_parts, [], found)[2] == turns


def test_a_stopped_turn_is_not_sent_as_history() -> None:
    svc = FakeService()
    turns = [Turn.stopped_early("第一问", "半截回答")]
    run(svc, "第二问", [{"role": "user", "content": "第一问"}, {"role": "assistant", "content": "x"}], turns)
    assert svc.calls[0]["history"] == [{"role": "user", "content": "第一问"}, {"role": "assistant", "content": ""}]


def test_regenerate_asks_the_last_question_again_in_its_place() -> None:
    svc = FakeService()
    messages, _, _, turns = run(svc, "第一问")[-1]
    messages, _, _, turns = run(svc, "第二问", messages, turns)[-1]
    svc.result = answer("新的回答[1]。")
    messages, _, _, turns = list(regenerate(lambda: svc, messages, turns, 3, "extractive"))[-1]
    assert [t.question for t in turns] == ["第一问", "第二问"] and turns[-1].answer == "新的回答[1]。"
    assert len(messages) == 4 and "新的回答" in messages[-1]["content"]
    assert svc.calls[-1]["question"] == "第二问" and svc.calls[-1]["history"][0]["content"] == "第一问"
    with pytest.warns(UserWarning, match="重新生成"):
        assert list(regenerate(lambda: svc, [], [], 3, "extractive"))[-1][3] == []


def test_the_overview_counts_the_knowledge_base_and_suggests_its_titles() -> None:
    svc = FakeService(files=("a.txt", "b.txt"))
    svc.documents.files["a.txt"].articles = 3
    found = knowledge_base(lambda: svc)
    assert found is not None and (found.files, found.articles, found.chunks) == (2, 4, 4)
    examples = examples_for(found)
    assert len(examples) == 4 and examples == examples_for(knowledge_base(lambda: svc))  # deterministic
    assert all(e.startswith("「") and e.endswith("讲了什么？") for e in examples)
    titles = set(found.all_titles)
    assert all(e[1:-6] in titles for e in examples)

    def loading() -> Any:
        raise RuntimeError("loading")

    assert knowledge_base(loading) is None and examples_for(None) == []


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
    assert messages[-1]["content"] == ANSWER_FAILED and textbox == gr.skip()
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
    skips = SkipLog()
    table, choices, status = admin_refresh(lambda: svc, skips)
    assert table == [["news.jsonl", INDEXED, 1, 2, 100, "news.jsonl 的第1篇文章标题"]]
    assert choices["choices"] == ["news.jsonl"] and status == ""

    upload = tmp_path / "evil name<x>.md"
    upload.write_text("# 标题\n\n正文。", encoding="utf-8")
    seen: list[float] = []
    table, choices, status = admin_upload(lambda: svc, [str(upload)], lambda f, desc=None: seen.append(f), skips)
    assert [row[0] for row in table] == ["evil_name_x_.md", "news.jsonl"]
    assert "已上传：evil_name_x_.md" in status and "完成：2 个文件" in status
    assert choices["choices"] == ["evil_name_x_.md", "news.jsonl"] and seen == [0.5, 1.0]

    with pytest.warns(UserWarning, match="已有同名文件"):
        _, _, status = admin_upload(lambda: svc, [str(upload)], no_progress, skips)
    assert "未上传任何文件" in status and svc.documents.replaced == []
    admin_upload(lambda: svc, [str(upload)], no_progress, skips, replace=True)
    assert svc.documents.replaced == ["evil_name_x_.md"]

    table, _, status = admin_remove(lambda: svc, "evil_name_x_.md", skips)
    assert [row[0] for row in table] == ["news.jsonl"] and status == "已删除：evil_name_x_.md"


def test_admin_reingest_reports_progress_and_a_busy_index() -> None:
    svc = FakeService()
    seen: list[tuple[float, str | None]] = []
    table, _, summary = admin_ingest(lambda: svc, lambda f, desc=None: seen.append((f, desc)), SkipLog())
    assert table and summary.startswith("完成：1 个文件") and seen == [(0.5, "embed"), (1.0, "done")]
    svc.documents.busy = True
    with pytest.warns(UserWarning, match="正在进行"):
        table, choices, status = admin_ingest(lambda: svc, no_progress, SkipLog())
    assert table == gr.skip() and choices == gr.skip() and "正在进行" in status


def test_admin_failures_are_messages_not_errors(tmp_path: Path) -> None:
    """Issue 13, defect 9: a .png (or any refusal) is a Chinese message in the status box and a
    toast; nothing raises, so Gradio puts no red Error badge on the admin components."""
    svc = FakeService()
    png = tmp_path / "photo.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    note = tmp_path / "note.md"
    note.write_text("短文。", encoding="utf-8")
    skips = SkipLog()
    with pytest.warns(UserWarning, match="不支持的文件类型：photo.png"):
        table, choices, status = admin_upload(lambda: svc, [str(png)], no_progress, skips)
    assert (table, choices) == (gr.skip(), gr.skip()) and "不支持的文件类型：photo.png" in status
    assert svc.documents.ingests == 0
    with pytest.warns(UserWarning, match="photo.png"):  # the .md of the same upload is still stored
        table, _, status = admin_upload(lambda: svc, [str(png), str(note)], no_progress, skips)
    assert "已上传：note.md" in status and "photo.png" in status and "note.md" in [r[0] for r in table]
    for call, match in [
        (lambda: admin_upload(lambda: svc, [], no_progress, skips), "选择文件"),
        (lambda: admin_remove(lambda: svc, None, skips), "选择要删除"),
        (lambda: admin_remove(lambda: svc, "missing.txt", skips), "没有这个文件"),
    ]:
        with pytest.warns(UserWarning, match=match):
            table, choices, status = call()
        assert (table, choices) == (gr.skip(), gr.skip()) and match in status


def test_skipped_files_are_listed_with_their_reason_and_removable(tmp_path: Path) -> None:
    svc = FakeService()
    svc.documents.disk = [tmp_path]
    (tmp_path / "news.jsonl").write_text("{}", encoding="utf-8")
    (tmp_path / "empty.txt").write_bytes(b"  ")
    (tmp_path / "never-seen.txt").write_text("x", encoding="utf-8")
    skips = SkipLog()
    skips.update({"empty.txt": "file is empty"})
    table, choices, _ = admin_refresh(lambda: svc, skips)
    rows = {row[0]: row for row in table}
    assert rows["news.jsonl"][1] == INDEXED
    assert rows["empty.txt"][1] == "已跳过：文件是空的 (file is empty)" and rows["empty.txt"][4] == 2
    assert rows["never-seen.txt"][1].startswith("未建立索引")
    assert choices["choices"] == ["news.jsonl", "empty.txt", "never-seen.txt"]


def test_service_still_loading_is_a_status_message() -> None:
    def loading() -> Any:
        raise RuntimeError("索引和模型正在加载")

    with pytest.warns(UserWarning, match="正在加载"):
        table, _, status = admin_refresh(loading, SkipLog())
    assert table == gr.skip() and status == "索引和模型正在加载"


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
    skips = SkipLog()
    for call in (
        lambda: admin_refresh(getter, skips, **guard),
        lambda: admin_upload(getter, [str(upload)], no_progress, skips, **guard),
        lambda: admin_ingest(getter, no_progress, skips, **guard),
        lambda: admin_remove(getter, "news.jsonl", skips, **guard),
    ):
        with pytest.warns(UserWarning, match="管理口令错误"):
            table, choices, status = call()
        assert (table, choices, status) == (gr.skip(), gr.skip(), ADMIN_TOKEN_ERROR)  # no file data leaks
    assert calls == [] and svc.documents.ingests == 0 and list(svc.documents.files) == ["news.jsonl"]


def test_admin_handlers_work_with_the_right_token() -> None:
    svc = FakeService()
    table, _, _ = admin_refresh(lambda: svc, SkipLog(), token=ADMIN_TOKEN, required=ADMIN_TOKEN)
    assert [row[0] for row in table] == ["news.jsonl"]
