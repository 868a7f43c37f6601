"""The Gradio chat UI (mounted at /ui by rag.api.app): chat with sources, feedback, admin tab.

Everything shown that comes from documents, answers or users goes through
``html.escape`` here, before it reaches the page: the chatbot runs with
``render_markdown=False`` so the HTML we build is shown as built, and no markdown
syntax inside a document (``[x](javascript:...)``, ``$$``) can turn into markup.
Gradio's own sanitiser stays on as a second layer.
"""

from __future__ import annotations

import html
import json
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import gradio as gr

from rag.config import Settings, token_accepted
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.service import MODES, QuestionError, RagService

log = logging.getLogger(__name__)

ServiceGetter = Callable[[], RagService]

EXAMPLES = [
    "黑石BXPE基金的管理费是多少？",
    "2023年中国汽车出口了多少辆？",
    "盛景嘉成的创始合伙人叫什么名字？",
    "2023年上半年在A股上市的中国公司有多少家？",
]
MODE_LABELS = {"local": "本地大模型", "openai": "OpenAI 兼容接口", "extractive": "抽取式（不用大模型）"}
HISTORY_TURNS = 3  # earlier turns sent for follow-up questions; more only slows the condense step
EMPTY_SOURCES = (
    '<div class="rag-sources-empty">提问后，这里会列出回答引用的原文段落。点击回答中的 [n] 可跳到对应段落。</div>'
)
THINKING = '<span class="rag-thinking">正在检索和生成…</span>'

_MARKER_RE = re.compile(r"\[(\d{1,3})\]")
# Highlights may join several non-adjacent sentences: each is marked where it occurs.
_SENTENCE_END_RE = re.compile(r"(?<=[。！？!?；;\n])")

CSS = """
.rag-answer { line-height: 1.7; }
a.rag-cite { color: var(--color-accent, #ea580c) !important; text-decoration: none; font-weight: 600; padding: 0 1px; cursor: pointer; }
a.rag-cite:hover { text-decoration: underline; }
.rag-notice { margin-top: .5em; padding: .4em .6em; border-left: 4px solid #f59e0b; background: rgba(245,158,11,.12); border-radius: 4px; }
.rag-related-list { margin: .3em 0 0 1.2em; }
.rag-turn h3 { font-size: 1em; margin: .8em 0 .4em; }
.rag-src { border: 1px solid var(--border-color-primary, #ddd); border-radius: 6px; padding: .4em .6em; margin: .4em 0; }
.rag-src summary { cursor: pointer; font-weight: 600; }
.rag-src .rag-meta { font-size: .85em; opacity: .75; margin: .2em 0; }
.rag-src .rag-passage { white-space: pre-wrap; line-height: 1.6; margin: .3em 0 0; }
.rag-src mark { background: #fde68a; color: inherit; padding: 0 1px; }
.rag-flash { outline: 3px solid #f59e0b; transition: outline-color 1.5s; }
"""

# Gradio would treat a click on a link as navigation; citation links instead open and
# scroll to their passage in the sources panel. Capture phase so it runs first.
HEAD = """
<script>
document.addEventListener('click', function (event) {
  var link = event.target.closest && event.target.closest('a.rag-cite');
  if (!link) return;
  event.preventDefault();
  event.stopPropagation();
  var target = document.getElementById(link.getAttribute('href').slice(1));
  if (!target) return;
  target.open = true;
  // The supporting sentence, not the passage top, is what the reader wants to see.
  (target.querySelector('mark') || target).scrollIntoView({behavior: 'smooth', block: 'center'});
  target.classList.add('rag-flash');
  setTimeout(function () { target.classList.remove('rag-flash'); }, 1500);
}, true);
</script>
"""


# ---------------------------------------------------------------------- rendering


def escape(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def _with_breaks(escaped: str) -> str:
    return escaped.replace("\n", "<br>")


def render_answer(answer: str, turn: int) -> str:
    """Escaped answer text whose [n] markers link to passage n of this turn."""

    def link(match: re.Match[str]) -> str:
        n = match.group(1)
        return f'<a class="rag-cite" href="#src-{turn}-{n}" data-n="{n}">[{n}]</a>'

    return _with_breaks(_MARKER_RE.sub(link, escape(answer)))


def _highlight_pieces(highlight: str | list[str] | None) -> list[str]:
    items = highlight if isinstance(highlight, list) else [highlight or ""]
    pieces: list[str] = []
    for item in items:
        pieces.extend(p.strip() for p in _SENTENCE_END_RE.split(item or ""))
    return [p for p in pieces if len(p) >= 2]


def highlight_passage(text: str, highlight: str | list[str] | None) -> str:
    """The passage, escaped, with the supporting sentence(s) wrapped in <mark>."""
    spans: list[tuple[int, int]] = []
    for piece in _highlight_pieces(highlight):
        start = text.find(piece)
        while start != -1:
            spans.append((start, start + len(piece)))
            start = text.find(piece, start + len(piece))
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    position = 0
    for start, end in merged:
        out.append(escape(text[position:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def _passage_html(element_id: str, label: str, item: dict[str, Any], open_: bool) -> str:
    meta = " · ".join(escape(v) for v in (item.get("section"), item.get("file")) if v)
    score = item.get("score")
    if isinstance(score, (int, float)):
        meta += f" · 相关度 {score:.3f}"
    return (
        f'<details class="rag-src" id="{element_id}"{" open" if open_ else ""}>'
        f"<summary>{escape(label)} {escape(item.get('title') or item.get('file') or '')}</summary>"
        f'<div class="rag-meta">{meta}</div>'
        f'<div class="rag-passage">{highlight_passage(item.get("text", ""), item.get("highlight"))}</div>'
        "</details>"
    )


def render_sources(turns: list[dict[str, Any]]) -> str:
    """All turns' cited passages, newest first; only the newest turn's are expanded."""
    if not turns:
        return EMPTY_SOURCES
    blocks: list[str] = []
    last = len(turns) - 1
    for turn in range(last, -1, -1):
        record = turns[turn]
        parts = [
            f'<section class="rag-turn" data-turn="{turn}"><h3>第 {turn + 1} 问：{escape(record["question"])}</h3>'
        ]
        for citation in record.get("citations", []):
            parts.append(_passage_html(f"src-{turn}-{citation['n']}", f"[{citation['n']}]", citation, turn == last))
        if record.get("refused") and record.get("related"):
            parts.append("<h4>可能相关的资料</h4>")
            for i, item in enumerate(record["related"], 1):
                parts.append(_passage_html(f"rel-{turn}-{i}", f"相关 {i}.", item, False))
        if not record.get("citations") and not record.get("related"):
            parts.append('<div class="rag-sources-empty">没有引用的段落。</div>')
        parts.append("</section>")
        blocks.append("".join(parts))
    return "".join(blocks)


def render_result(result: dict[str, Any], turn: int) -> str:
    """The assistant bubble: answer with linked markers; a refusal is shown as a notice."""
    if result.get("refused"):
        # The service's refusal sentence ("知识库中没有找到…") heads the notice box.
        notice = escape(result.get("answer") or "知识库中没有找到与该问题相关的信息。")
        related = result.get("related") or []
        if related:
            titles = "".join(f"<li>{escape(item.get('title') or item.get('file'))}</li>" for item in related)
            notice += f'<br>可能相关的资料（原文见右侧来源栏）：<ul class="rag-related-list">{titles}</ul>'
        parts = [f'<div class="rag-answer rag-notice rag-refusal">{notice}</div>']
    else:
        parts = [f'<div class="rag-answer">{render_answer(result.get("answer", ""), turn)}</div>']
    if result.get("notice"):
        parts.append(f'<div class="rag-notice rag-fallback">{escape(result["notice"])}</div>')
    return "".join(parts)


def render_partial(text: str) -> str:
    return f'<div class="rag-answer rag-streaming">{_with_breaks(escape(text))}</div>'


# ---------------------------------------------------------------------- feedback


class FeedbackLog:
    """Append-only JSONL of thumbs up/down with the question, answer and citations."""

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, turn: dict[str, Any], liked: bool | str) -> dict[str, Any]:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rating": "up" if liked is True else "down" if liked is False else str(liked),
            "question": turn.get("question"),
            "answer": turn.get("answer"),
            "refused": turn.get("refused"),
            "mode": turn.get("mode"),
            "citations": turn.get("citations", []),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return entry


# ---------------------------------------------------------------------- handlers


def _history(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    messages: list[dict[str, str]] = []
    for record in turns[-HISTORY_TURNS:]:
        messages.append({"role": "user", "content": record["question"]})
        messages.append({"role": "assistant", "content": record.get("answer", "")})
    return messages


def _service_or_error(get_service: ServiceGetter) -> RagService:
    try:
        return get_service()
    except Exception as exc:  # still loading, or failed: tell the user instead of a stack trace
        raise gr.Error(str(getattr(exc, "message", exc))) from exc


def chat(
    get_service: ServiceGetter,
    question: str,
    messages: list[dict[str, Any]],
    turns: list[dict[str, Any]],
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
        {"role": "user", "content": _with_breaks(escape(question))},
        {"role": "assistant", "content": THINKING},
    ]
    yield messages, "", gr.skip(), turns

    partial = ""
    result: dict[str, Any] | None = None
    try:
        for event in svc.ask_stream(question, history=_history(turns), k=int(k), mode=mode):
            if event["type"] == "token" and event["text"]:
                partial += event["text"]
                # A new list per yield: Gradio diffs successive values, a mutated one looks unchanged.
                messages = [*messages[:-1], {"role": "assistant", "content": render_partial(partial)}]
                yield messages, "", gr.skip(), turns
            elif event["type"] == "final":
                result = event["result"]
    except QuestionError as exc:
        gr.Warning(str(exc))
        yield messages[:-2], question, gr.skip(), turns
        return
    except Exception:
        log.exception("answering failed")
        messages = [
            *messages[:-1],
            {"role": "assistant", "content": '<div class="rag-notice">生成回答时出错，请稍后重试。</div>'},
        ]
        # Keep a turn so message indices and turns stay aligned for feedback.
        turns = [
            *turns,
            {"question": question, "answer": "", "refused": True, "citations": [], "related": [], "mode": mode},
        ]
        yield messages, "", render_sources(turns), turns
        return
    assert result is not None
    record = {
        "question": question,
        "answer": result.get("answer", ""),
        "refused": bool(result.get("refused")),
        "mode": result.get("mode"),
        "notice": result.get("notice"),
        "citations": result.get("citations", []),
        "related": result.get("related", []),
    }
    turns = [*turns, record]
    messages = [*messages[:-1], {"role": "assistant", "content": render_result(result, turn)}]
    yield messages, "", render_sources(turns), turns


def feedback(log_: FeedbackLog, turns: list[dict[str, Any]], data: gr.LikeData) -> None:
    index = data.index[0] if isinstance(data.index, (list, tuple)) else data.index
    turn = int(index) // 2  # messages alternate user, assistant
    if not 0 <= turn < len(turns):
        return
    log_.record(turns[turn], data.liked)
    gr.Info("感谢反馈！(feedback saved)")


def _files_table(svc: RagService) -> list[list[Any]]:
    return [[f["file"], f["articles"], f["chunks"], f["size"]] for f in svc.list_files()]


def _ingest_summary(report: Any) -> str:
    lines = [
        (
            f"完成：{report.files} 个文件，{report.articles} 篇文章，{report.chunks} 个段落"
            f"（新嵌入 {report.chunks_embedded} 个），用时 {report.seconds:.1f} 秒。"
        )
    ]
    for name, reason in (getattr(report, "errors", None) or {}).items():
        lines.append(f"跳过 {name}：{reason}")
    return "\n".join(lines)


ADMIN_TOKEN_ERROR = "管理口令错误或未填写，操作未执行。请在上方“管理口令”框中输入正确的口令。"


def check_admin_token(required: str, given: str | None) -> None:
    """Raise unless no admin token is configured or ``given`` is it (checked before any admin action)."""
    if not token_accepted(required, given):
        log.warning("admin action refused: missing or wrong admin token")
        raise gr.Error(ADMIN_TOKEN_ERROR)


def _refresh(svc: RagService) -> tuple[Any, Any]:
    table = _files_table(svc)
    return table, gr.update(choices=[row[0] for row in table], value=None)


def _ingest(svc: RagService, progress: gr.Progress) -> tuple[Any, Any, str]:
    try:
        report = svc.ingest(on_progress=lambda stage, fraction: progress(fraction, desc=stage))
    except RuntimeError as exc:  # another ingest holds the index lock
        raise gr.Error(str(exc)) from exc
    return (*_refresh(svc), _ingest_summary(report))


# Every admin handler takes the token typed in the admin tab (``token``) and the one
# configured (``required``, empty = no protection) and checks them first.


def admin_refresh(get_service: ServiceGetter, *, token: str | None = None, required: str = "") -> tuple[Any, Any]:
    check_admin_token(required, token)
    return _refresh(_service_or_error(get_service))


def admin_ingest(
    get_service: ServiceGetter, progress: gr.Progress, *, token: str | None = None, required: str = ""
) -> tuple[Any, Any, str]:
    check_admin_token(required, token)
    return _ingest(_service_or_error(get_service), progress)


def admin_upload(
    get_service: ServiceGetter,
    files: list[Any] | None,
    progress: gr.Progress,
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
            stored.append(svc.add_upload(path.name, path.read_bytes()))
        except QuestionError as exc:
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
        svc.remove_file(name)
    except QuestionError as exc:
        raise gr.Error(str(exc)) from exc
    return (*_refresh(svc), f"已删除：{name}")


# ---------------------------------------------------------------------- layout


def build_ui(get_service: ServiceGetter, settings: Settings) -> gr.Blocks:
    """The Blocks app; ``get_service`` raises while the service is still loading."""
    feedback_log = FeedbackLog(Path(settings.data_dir) / "feedback.jsonl")
    required = settings.required_admin_token

    with gr.Blocks(title="知识库问答") as demo:
        turns = gr.State([])
        gr.Markdown("## 知识库问答\n基于本地知识库回答问题，回答中的 [n] 对应右侧的原文段落。")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        chatbot = gr.Chatbot(
                            label="对话",
                            elem_id="rag-chat",
                            height=520,
                            render_markdown=False,
                            sanitize_html=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            feedback_options=("Like", "Dislike"),
                            buttons=["copy"],
                            placeholder="可以问财经、科技新闻中的事实，例如基金管理费、汽车出口量。",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder="输入问题，按回车发送",
                                show_label=False,
                                scale=5,
                                max_length=settings.max_question_chars,
                                elem_id="rag-question",
                            )
                            send = gr.Button("发送", variant="primary", scale=1, elem_id="rag-send")
                        clear = gr.Button("清空对话", elem_id="rag-clear", size="sm")
                        gr.Examples(examples=[[q] for q in EXAMPLES], inputs=[question], label="示例问题")
                        with gr.Accordion("设置", open=False):
                            top_k = gr.Slider(
                                1, 10, value=settings.top_k, step=1, label="检索段落数 (top-k)", elem_id="rag-k"
                            )
                            mode = gr.Radio(
                                choices=[(f"{MODE_LABELS[m]} ({m})", m) for m in MODES],
                                value=settings.mode,
                                label="回答模式",
                                elem_id="rag-mode",
                            )
                    with gr.Column(scale=2):
                        gr.Markdown("### 来源")
                        sources = gr.HTML(EMPTY_SOURCES, elem_id="rag-sources", js_on_load=None, max_height=680)

            with gr.Tab("管理", id="admin"):
                gr.Markdown(f"上传文档（{' '.join(SUPPORTED_SUFFIXES)}）后会自动重建索引；未改动的文件会复用已有向量。")
                # Shown only when a token is configured; the handlers check it either way.
                admin_token = gr.Textbox(
                    label="管理口令",
                    type="password",
                    placeholder="输入管理口令后点“刷新列表”或按回车",
                    visible=bool(required),
                    elem_id="rag-admin-token",
                )
                with gr.Row():
                    uploads = gr.File(
                        label="上传文件",
                        file_count="multiple",
                        file_types=list(SUPPORTED_SUFFIXES),
                        elem_id="rag-upload",
                    )
                    with gr.Column():
                        upload_btn = gr.Button("上传并建立索引", variant="primary", elem_id="rag-upload-btn")
                        reingest_btn = gr.Button("重新建立索引", elem_id="rag-reingest")
                        refresh_btn = gr.Button("刷新列表", elem_id="rag-refresh")
                status = gr.Textbox(label="状态", interactive=False, lines=3, elem_id="rag-admin-status")
                files = gr.Dataframe(
                    headers=["文件", "文章数", "段落数", "字节"],
                    datatype=["str", "number", "number", "number"],
                    interactive=False,
                    label="已索引的文件",
                    elem_id="rag-files",
                )
                with gr.Row():
                    to_remove = gr.Dropdown(choices=[], label="选择要删除的文件", scale=3, elem_id="rag-remove-choice")
                    remove_btn = gr.Button("删除文件并重建索引", variant="stop", scale=1, elem_id="rag-remove")

        chat_outputs = [chatbot, question, sources, turns]

        def _chat(q: str, m: list, t: list, k: float, md: str) -> Iterator[tuple[Any, ...]]:
            yield from chat(get_service, q, m, t, k, md)

        for trigger in (question.submit, send.click):
            trigger(_chat, [question, chatbot, turns, top_k, mode], chat_outputs, concurrency_limit=4)
        clear.click(lambda: ([], "", EMPTY_SOURCES, []), None, chat_outputs, queue=False)

        def _feedback(t: list, data: gr.LikeData) -> None:  # the annotation makes Gradio pass LikeData
            feedback(feedback_log, t, data)

        chatbot.like(_feedback, [turns], None)

        # Gradio finds its progress tracker through this default value: it must be a call.
        def _reingest(token: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, str]:  # noqa: B008
            return admin_ingest(get_service, progress, token=token, required=required)

        def _upload(
            token: str,
            f: list | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, Any, str, None]:
            return admin_upload(get_service, f, progress, token=token, required=required)

        def _refresh_files(token: str) -> tuple[Any, Any]:
            return admin_refresh(get_service, token=token, required=required)

        def _remove(token: str, name: str | None) -> tuple[Any, Any, str]:
            return admin_remove(get_service, name, token=token, required=required)

        gr.on(
            [refresh_btn.click, admin_token.submit],
            _refresh_files,
            [admin_token],
            [files, to_remove],
            api_name="admin_refresh",
        )
        reingest_btn.click(
            _reingest, [admin_token], [files, to_remove, status], concurrency_id="ingest", api_name="admin_reingest"
        )
        upload_btn.click(
            _upload,
            [admin_token, uploads],
            [files, to_remove, status, uploads],
            concurrency_id="ingest",
            api_name="admin_upload",
        )
        remove_btn.click(
            _remove,
            [admin_token, to_remove],
            [files, to_remove, status],
            concurrency_id="ingest",
            api_name="admin_remove",
        )

        def _load_files() -> tuple[Any, Any]:
            try:
                return admin_refresh(get_service)
            except gr.Error:  # service still loading: the admin can press refresh later
                return [], gr.update(choices=[])

        if not required:  # with a token the list waits until it is entered
            demo.load(_load_files, None, [files, to_remove])
    demo.queue(default_concurrency_limit=2)
    return demo
