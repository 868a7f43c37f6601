"""What the UI's buttons do: stream an answer into the chat, record feedback, admin actions.

Handlers take a ``get_service`` callable rather than the service: the server starts
answering before the index and models have loaded, and the getter raises meanwhile.
Each returns the new values of the Gradio components it updates; rendering is
``ui.render``'s job.
"""

from __future__ import annotations

import html
import logging
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.config import token_accepted
from rag.errors import QuestionError, RagError
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.types import Answer, Passage
from ui.admin_view import SkipLog, file_rows
from ui.feedback import FeedbackLog
from ui.overview import KnowledgeBaseOverview, build_overview, example_questions, titles_by_file
from ui.render import (
    ANSWER_FAILED,
    THINKING,
    render_partial,
    render_question,
    render_result,
    render_retrieving,
    render_sources,
)
from ui.turns import Turn, history_messages

if TYPE_CHECKING:  # annotations only: importing the handlers does not load the engine
    from rag.ingest.pipeline import IngestReport
    from rag.service import RagService

log = logging.getLogger(__name__)

ServiceGetter = Callable[[], "RagService"]
Progress = Callable[..., Any]  # gr.Progress, or any f(fraction, desc=...) in tests

ADMIN_TOKEN_ERROR = "管理口令错误或未填写，操作未执行。请在上方“管理口令”框中输入正确的口令。"
# Toast titles: Gradio's default ones ("Warning", "Error") are English.
NOTICE_TITLE = "提示"
ERROR_TITLE = "出错了"


def _service_or_error(get_service: ServiceGetter) -> RagService:
    try:
        return get_service()
    # Whatever the getter raises (still loading, or loading failed) is for the user to
    # read in a toast, not as a stack trace; its ``message`` if it has one.
    except Exception as exc:
        raise gr.Error(str(getattr(exc, "message", exc)), title=ERROR_TITLE) from exc


# ---------------------------------------------------------------------- chat


def chat(
    get_service: ServiceGetter,
    question: str,
    messages: list[dict[str, Any]],
    turns: list[Turn],
    k: float,
    mode: str,
    on_sources: Callable[[list[Passage]], None] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Stream one answer into the chat. Yields (chatbot, textbox, sources, turns).

    ``on_sources`` receives the retrieved passages when retrieval is done (the layout
    keeps them, so a stopped answer still lists them).

    The textbox is cleared once, when the question is taken, and never touched again:
    what the user types while the answer streams stays in the box.
    """
    question = (question or "").strip()
    if not question:
        gr.Warning("请输入问题 (question is empty)", title=NOTICE_TITLE)
        yield messages, gr.skip(), gr.skip(), turns
        return
    svc = _service_or_error(get_service)
    turn = len(turns)
    messages = [
        *messages,
        {"role": "user", "content": render_question(question)},
        {"role": "assistant", "content": THINKING},
    ]
    yield messages, "", gr.skip(), turns

    partial = ""
    answer: Answer | None = None
    try:
        for event in svc.ask_stream(question, history=history_messages(turns), k=int(k), mode=mode):
            if event.type == "sources":
                # Retrieval is done (tens of ms); the model's first token is seconds away.
                if on_sources is not None:
                    on_sources(list(event.passages))
                yield messages, gr.skip(), render_retrieving(question, list(event.passages), turns), turns
            elif event.type == "token" and event.text:
                partial += event.text
                # A new list per yield: Gradio diffs successive values, a mutated one looks unchanged.
                messages = [*messages[:-1], {"role": "assistant", "content": render_partial(partial)}]
                yield messages, gr.skip(), gr.skip(), turns
            elif event.type == "final":
                answer = event.answer
    except QuestionError as exc:
        gr.Warning(str(exc), title=NOTICE_TITLE)
        yield messages[:-2], question, gr.skip(), turns
        return
    except Exception:  # the user gets a notice instead of a hung bubble; the log gets the trace
        log.exception("answering failed")
        messages = [*messages[:-1], {"role": "assistant", "content": ANSWER_FAILED}]
        turns = [*turns, Turn.failed(question, mode)]
        yield messages, gr.skip(), render_sources(turns), turns
        return
    assert answer is not None, "ask_stream ended without a final event"
    turns = [*turns, Turn.from_answer(question, answer)]
    messages = [*messages[:-1], {"role": "assistant", "content": render_result(answer, turn)}]
    yield messages, gr.skip(), render_sources(turns), turns


def regenerate(
    get_service: ServiceGetter,
    messages: list[dict[str, Any]],
    turns: list[Turn],
    k: float,
    mode: str,
    on_sources: Callable[[list[Passage]], None] | None = None,
) -> Iterator[tuple[Any, ...]]:
    """Ask the last question again in place of its answer. Yields what ``chat`` yields."""
    if not turns:
        gr.Warning("还没有可以重新生成的回答 (nothing to regenerate)", title=NOTICE_TITLE)
        yield messages, gr.skip(), gr.skip(), turns
        return
    last = turns[-1]
    yield from chat(get_service, last.question, messages[: 2 * (len(turns) - 1)], turns[:-1], k, mode, on_sources)


def stopped(
    messages: list[dict[str, Any]], turns: list[Turn], retrieved: list[Passage] | None = None
) -> tuple[Any, ...]:
    """After the user pressed stop: the streaming bubble becomes a stopped turn (chat, sources, turns).

    The partial text shown so far stays, marked as unchecked; it is never sent as
    history. Messages beyond the turns mean an answer was being written when stopped.
    """
    if len(messages) < 2 * len(turns) + 2:
        return messages, render_sources(turns), turns  # nothing was streaming
    question = _text_of(messages[-2].get("content", ""))
    last = messages[-1].get("content", "")
    partial = _text_of(last) if "rag-streaming" in str(last) else ""
    turn = Turn.stopped_early(question, partial, retrieved)
    turns = [*turns, turn]
    messages = [*messages[:-1], {"role": "assistant", "content": render_result(turn, len(turns) - 1)}]
    return messages, render_sources(turns), turns


def _text_of(content: Any) -> str:
    """The text of a bubble this module rendered (escaped text, <br> breaks, wrapper tags).

    The browser sends a message's content back as a list of parts
    (``[{"type": "text", "text": ...}]``) in Gradio 6, as the plain string before.
    """
    if isinstance(content, list):
        content = "".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    text = str(content or "").replace("<br>", "\n")
    return html.unescape(re.sub(r"<[^>]+>", "", text))


def feedback(log_: FeedbackLog, turns: list[Turn], data: gr.LikeData) -> None:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    turn = int(index) // 2  # messages alternate user, assistant
    if not 0 <= turn < len(turns):
        return
    log_.record(turns[turn], data.liked)
    gr.Info("感谢反馈！(feedback saved)", title=NOTICE_TITLE)


def knowledge_base(get_service: ServiceGetter) -> KnowledgeBaseOverview | None:
    """What the live index holds; None while the service is loading or there is no index."""
    try:
        svc = get_service()
        index = svc.snapshot().index
        return build_overview(svc.documents.list_files(), index.chunks, index.manifest.created)
    except Exception as exc:  # loading, no index yet: the chat tab simply shows no summary
        log.info("no knowledge-base overview yet: %s", getattr(exc, "message", exc))
        return None


def examples_for(overview: KnowledgeBaseOverview | None) -> list[str]:
    return example_questions(overview.all_titles) if overview else []


# ---------------------------------------------------------------------- admin
# Every admin handler takes the token typed in the admin tab (``token``) and the one
# configured (``required``, empty = no protection) and checks them first. None of them
# raises: a refusal or failure is a toast and a line in the status box, and the other
# components keep their values (an exception would put a red "Error" badge on each).
# Each returns (files table, remove choices, status).

AdminOutputs = tuple[Any, Any, str]


def _refused(message: str) -> AdminOutputs:
    gr.Warning(message, title=NOTICE_TITLE)
    return gr.skip(), gr.skip(), message


def token_ok(required: str, given: str | None) -> bool:
    """Whether an admin action may run: no admin token configured, or ``given`` is it."""
    if token_accepted(required, given):
        return True
    log.warning("admin action refused: missing or wrong admin token")
    return False


def _admin_service(get_service: ServiceGetter) -> RagService | str:
    try:
        return get_service()
    except Exception as exc:  # still loading, or loading failed: say so in the status box
        return str(getattr(exc, "message", exc))


def _files_on_disk(svc: RagService) -> dict[str, int]:
    from rag.ingest.pipeline import discover

    return {name: path.stat().st_size for name, path in discover(svc.documents.folders()).items()}


def _titles(svc: RagService) -> dict[str, list[str]]:
    try:
        return titles_by_file(svc.snapshot().index.chunks)
    except RagError:  # no index yet: files are listed without titles
        return {}


def _view(svc: RagService, skips: SkipLog) -> tuple[list[list[Any]], Any]:
    rows = file_rows(svc.documents.list_files(), _titles(svc), _files_on_disk(svc), skips)
    return [row.cells() for row in rows], gr.update(choices=[row.file for row in rows], value=None)


def _ingest_summary(report: IngestReport) -> str:
    from ui.admin_view import reason_zh

    lines = [
        (
            f"完成：{report.files} 个文件，{report.articles} 篇文章，{report.chunks} 个段落"
            f"（新嵌入 {report.chunks_embedded} 个），用时 {report.seconds:.1f} 秒。"
        )
    ]
    for name, reason in report.errors.items():
        lines.append(f"跳过 {name}：{reason_zh(reason)}（可在下方选择它并删除）")
    return "\n".join(lines)


def _ingest(svc: RagService, progress: Progress, skips: SkipLog, before: str = "") -> AdminOutputs:
    try:
        report = svc.documents.ingest(on_progress=lambda stage, fraction: progress(fraction, desc=stage))
    except RagError as exc:  # e.g. another ingest holds the index lock
        return _refused(before + str(exc))
    skips.update(report.errors)
    return (*_view(svc, skips), before + _ingest_summary(report))


def admin_refresh(
    get_service: ServiceGetter, skips: SkipLog, *, token: str | None = None, required: str = ""
) -> AdminOutputs:
    if not token_ok(required, token):
        return _refused(ADMIN_TOKEN_ERROR)
    svc = _admin_service(get_service)
    if isinstance(svc, str):
        return _refused(svc)
    return (*_view(svc, skips), "")


def admin_ingest(
    get_service: ServiceGetter, progress: Progress, skips: SkipLog, *, token: str | None = None, required: str = ""
) -> AdminOutputs:
    if not token_ok(required, token):
        return _refused(ADMIN_TOKEN_ERROR)
    svc = _admin_service(get_service)
    if isinstance(svc, str):
        return _refused(svc)
    return _ingest(svc, progress, skips)


def admin_upload(
    get_service: ServiceGetter,
    files: list[Any] | None,
    progress: Progress,
    skips: SkipLog,
    *,
    replace: bool = False,
    token: str | None = None,
    required: str = "",
) -> AdminOutputs:
    """Store the uploaded files, then re-index. A file of an unsupported type is refused
    by name (the others of the same upload are still stored)."""
    if not token_ok(required, token):
        return _refused(ADMIN_TOKEN_ERROR)
    svc = _admin_service(get_service)
    if isinstance(svc, str):
        return _refused(svc)
    if not files:
        return _refused("请先选择文件 (choose files first)")
    stored: list[str] = []
    problems: list[str] = []
    for file in files:
        path = Path(getattr(file, "name", file))
        shown = getattr(file, "orig_name", None) or path.name
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            problems.append(f"不支持的文件类型：{shown}（支持 {' '.join(SUPPORTED_SUFFIXES)}）")
            continue
        try:
            stored.append(svc.documents.add_upload(path.name, path.read_bytes(), replace=replace))
        except RagError as exc:  # a name taken, or one that sanitises to nothing
            problems.append(str(exc))
    if problems:
        gr.Warning("\n".join(problems), title=NOTICE_TITLE)
    if not stored:
        return gr.skip(), gr.skip(), "未上传任何文件。\n" + "\n".join(problems)
    before = f"已上传：{', '.join(stored)}\n" + "".join(f"{p}\n" for p in problems)
    return _ingest(svc, progress, skips, before)


def admin_remove(
    get_service: ServiceGetter, name: str | None, skips: SkipLog, *, token: str | None = None, required: str = ""
) -> AdminOutputs:
    if not token_ok(required, token):
        return _refused(ADMIN_TOKEN_ERROR)
    svc = _admin_service(get_service)
    if isinstance(svc, str):
        return _refused(svc)
    if not name:
        return _refused("请先选择要删除的文件 (choose a file)")
    try:
        svc.documents.remove(name)
    except RagError as exc:  # no such file, or the index is busy
        return _refused(str(exc))
    return (*_view(svc, skips), f"已删除：{name}")
