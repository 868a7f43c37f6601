"""What the UI's buttons do: stream an answer into the chat, record feedback, admin actions.

Handlers take a ``get_service`` callable rather than the service: the server starts
answering before the index and models have loaded, and the getter raises meanwhile.
Each returns the new values of the Gradio components it updates; rendering is
``ui.render``'s job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import gradio as gr

from rag.config import token_accepted
from rag.errors import QuestionError, RagError
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.types import Answer
from ui.feedback import FeedbackLog
from ui.render import ANSWER_FAILED, THINKING, render_partial, render_question, render_result, render_sources
from ui.turns import Turn, history_messages

if TYPE_CHECKING:  # annotations only: importing the handlers does not load the engine
    from rag.ingest.pipeline import IngestReport
    from rag.service import RagService

log = logging.getLogger(__name__)

ServiceGetter = Callable[[], "RagService"]
Progress = Callable[..., Any]  # gr.Progress, or any f(fraction, desc=...) in tests

ADMIN_TOKEN_ERROR = "管理口令错误或未填写，操作未执行。请在上方“管理口令”框中输入正确的口令。"


def _service_or_error(get_service: ServiceGetter) -> RagService:
    try:
        return get_service()
    # Whatever the getter raises (still loading, or loading failed) is for the user to
    # read in a toast, not as a stack trace; its ``message`` if it has one.
    except Exception as exc:
        raise gr.Error(str(getattr(exc, "message", exc))) from exc


# ---------------------------------------------------------------------- chat


def chat(
    get_service: ServiceGetter,
    question: str,
    messages: list[dict[str, Any]],
    turns: list[Turn],
    k: float,
    mode: str,
) -> Iterator[tuple[Any, ...]]:
    """Stream one answer into the chat. Yields (chatbot, textbox, sources, turns)."""
    question = (question or "").strip()
    if not question:
        gr.Warning("请输入问题 (question is empty)")
        yield messages, question, gr.skip(), turns
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
            if event.type == "token" and event.text:
                partial += event.text
                # A new list per yield: Gradio diffs successive values, a mutated one looks unchanged.
                messages = [*messages[:-1], {"role": "assistant", "content": render_partial(partial)}]
                yield messages, "", gr.skip(), turns
            elif event.type == "final":
                answer = event.answer
    except QuestionError as exc:
        gr.Warning(str(exc))
        yield messages[:-2], question, gr.skip(), turns
        return
    except Exception:  # the user gets a notice instead of a hung bubble; the log gets the trace
        log.exception("answering failed")
        messages = [*messages[:-1], {"role": "assistant", "content": ANSWER_FAILED}]
        turns = [*turns, Turn.failed(question, mode)]
        yield messages, "", render_sources(turns), turns
        return
    assert answer is not None, "ask_stream ended without a final event"
    turns = [*turns, Turn.from_answer(question, answer)]
    messages = [*messages[:-1], {"role": "assistant", "content": render_result(answer, turn)}]
    yield messages, "", render_sources(turns), turns


def feedback(log_: FeedbackLog, turns: list[Turn], data: gr.LikeData) -> None:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    turn = int(index) // 2  # messages alternate user, assistant
    if not 0 <= turn < len(turns):
        return
    log_.record(turns[turn], data.liked)
    gr.Info("感谢反馈！(feedback saved)")


# ---------------------------------------------------------------------- admin
# Every admin handler takes the token typed in the admin tab (``token``) and the one
# configured (``required``, empty = no protection) and checks them first.


def check_admin_token(required: str, given: str | None) -> None:
    """Raise unless no admin token is configured or ``given`` is it (checked before any admin action)."""
    if not token_accepted(required, given):
        log.warning("admin action refused: missing or wrong admin token")
        raise gr.Error(ADMIN_TOKEN_ERROR)


def _files_table(svc: RagService) -> list[list[Any]]:
    return [[f.file, f.articles, f.chunks, f.size] for f in svc.documents.list_files()]


def _refresh(svc: RagService) -> tuple[Any, Any]:
    table = _files_table(svc)
    return table, gr.update(choices=[row[0] for row in table], value=None)


def _ingest_summary(report: IngestReport) -> str:
    lines = [
        (
            f"完成：{report.files} 个文件，{report.articles} 篇文章，{report.chunks} 个段落"
            f"（新嵌入 {report.chunks_embedded} 个），用时 {report.seconds:.1f} 秒。"
        )
    ]
    for name, reason in report.errors.items():
        lines.append(f"跳过 {name}：{reason}")
    return "\n".join(lines)


def _ingest(svc: RagService, progress: Progress) -> tuple[Any, Any, str]:
    try:
        report = svc.documents.ingest(on_progress=lambda stage, fraction: progress(fraction, desc=stage))
    except RagError as exc:  # e.g. another ingest holds the index lock
        raise gr.Error(str(exc)) from exc
    return (*_refresh(svc), _ingest_summary(report))


def admin_refresh(get_service: ServiceGetter, *, token: str | None = None, required: str = "") -> tuple[Any, Any]:
    check_admin_token(required, token)
    return _refresh(_service_or_error(get_service))


def admin_ingest(
    get_service: ServiceGetter, progress: Progress, *, token: str | None = None, required: str = ""
) -> tuple[Any, Any, str]:
    check_admin_token(required, token)
    return _ingest(_service_or_error(get_service), progress)


def admin_upload(
    get_service: ServiceGetter,
    files: list[Any] | None,
    progress: Progress,
    *,
    token: str | None = None,
    required: str = "",
) -> tuple[Any, Any, str, None]:
    check_admin_token(required, token)
    svc = _service_or_error(get_service)
    if not files:
        raise gr.Error("请先选择文件 (choose files first)")
    stored: list[str] = []
    for file in files:
        path = Path(getattr(file, "name", file))
        if path.suffix.lower() not in SUPPORTED_SUFFIXES:
            raise gr.Error(f"不支持的文件类型：{path.suffix}（支持 {' '.join(SUPPORTED_SUFFIXES)}）")
        try:
            stored.append(svc.documents.add_upload(path.name, path.read_bytes()))
        except RagError as exc:  # e.g. a name that sanitises to nothing
            raise gr.Error(str(exc)) from exc
    table, choices, summary = _ingest(svc, progress)
    return table, choices, f"已上传：{', '.join(stored)}\n{summary}", None


def admin_remove(
    get_service: ServiceGetter, name: str | None, *, token: str | None = None, required: str = ""
) -> tuple[Any, Any, str]:
    check_admin_token(required, token)
    svc = _service_or_error(get_service)
    if not name:
        raise gr.Error("请先选择要删除的文件 (choose a file)")
    try:
        svc.documents.remove(name)
    except RagError as exc:  # no such file, or the index is busy
        raise gr.Error(str(exc)) from exc
    return (*_refresh(svc), f"已删除：{name}")
