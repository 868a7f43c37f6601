"""The Gradio Blocks of the chat UI: the chat tab, the admin tab, and their wiring.

The page's CSS and the citation-link script live in ``ui/static`` (ui.css,
cite_links.js); ``CSS`` and ``HEAD`` are what ``gr.mount_gradio_app`` takes.

While an answer streams, the send button gives way to a stop button and the textbox
says so; a second Enter is ignored by Gradio (``trigger_mode="once"``) but what was
typed stays in the box (the chat handler clears it only when it takes a question), so
nothing the user wrote is lost. The conversation is kept in the browser
(``gr.BrowserState``, localStorage) as turns, and re-rendered from them on reload.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import gradio as gr

from rag.config import Settings, available_modes
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.types import Passage
from ui import handlers
from ui.admin_view import DATATYPES, HEADERS, SkipLog
from ui.feedback import FeedbackLog
from ui.handlers import ServiceGetter
from ui.overview import EXAMPLE_COUNT, render_overview
from ui.render import EMPTY_SOURCES, SUBTITLE, render_messages, render_sources
from ui.turns import load_turns, save_turns

MODE_LABELS = {"local": "本地大模型", "openai": "OpenAI 兼容接口", "extractive": "抽取式（不用大模型）"}
IDLE_PLACEHOLDER = "输入问题，按回车发送"
BUSY_PLACEHOLDER = "正在回答上一个问题…可以先输入下一个问题，回答结束后按回车发送；点「停止」可中断"
# The browser keeps the conversation under this key. The value is encrypted by Gradio
# with ``secret``; it is fixed (not random per process) so a conversation survives a
# server restart and several servers behind one address. It guards nothing: the data is
# the user's own conversation in the user's own browser.
HISTORY_KEY = "rag-chat-history-v1"
HISTORY_SECRET = "rag-chat-history"

_STATIC = resources.files("ui") / "static"
CSS = (_STATIC / "ui.css").read_text(encoding="utf-8")
HEAD = f"<script>\n{(_STATIC / 'cite_links.js').read_text(encoding='utf-8')}</script>\n"


def _controls(busy: bool) -> tuple[Any, Any, Any]:
    """send, stop, regenerate: while busy only stop is offered."""
    return gr.update(visible=not busy), gr.update(visible=busy), gr.update(interactive=not busy)


def _with_controls(
    start: Callable[[Callable[[list[Passage]], None]], Iterator[tuple[Any, ...]]],
) -> Iterator[tuple[Any, ...]]:
    """The chat handler's (chatbot, textbox, sources, turns) plus the saved history, the
    controls (busy from the first update, idle and saved after the last) and the passages
    retrieved for the question being answered (what a stop keeps)."""
    retrieved: list[Passage] = []
    turns: list[Any] | None = None
    first = True
    for chatbot, box, sources, turns in start(retrieved.extend):
        if first and box == "":  # the question was taken: say that the chat is busy
            box = gr.update(value="", placeholder=BUSY_PLACEHOLDER)
        yield (chatbot, box, sources, turns, gr.skip(), *_controls(busy=True), list(retrieved))
        first = False
    saved = save_turns(turns) if turns is not None else gr.skip()
    idle = (gr.skip(), gr.update(placeholder=IDLE_PLACEHOLDER), gr.skip(), gr.skip(), saved)
    yield (*idle, *_controls(busy=False), [])


def build_ui(get_service: ServiceGetter, settings: Settings) -> gr.Blocks:
    """The Blocks app; ``get_service`` raises while the service is still loading."""
    feedback_log = FeedbackLog(Path(settings.data_dir) / "feedback.jsonl")
    required = settings.required_admin_token
    skips = SkipLog()

    with gr.Blocks(title="知识库问答") as demo:
        turns = gr.State([])
        retrieving = gr.State([])  # passages retrieved for the question being answered
        saved = gr.BrowserState([], storage_key=HISTORY_KEY, secret=HISTORY_SECRET)
        logout = "　[退出登录](/logout)" if settings.api_token else ""
        gr.Markdown(f"## 知识库问答\n{SUBTITLE}{logout}", elem_id="rag-title")
        overview = gr.HTML("", elem_id="rag-overview")
        with gr.Tabs():
            with gr.Tab("问答", id="chat"):
                with gr.Row():
                    with gr.Column(scale=3):
                        # A heading, not the chatbot's own label: Gradio floats that label
                        # over the messages, where it covers them once the chat scrolls.
                        gr.Markdown("### 对话", elem_id="rag-chat-heading")
                        chatbot = gr.Chatbot(
                            show_label=False,
                            elem_id="rag-chat",
                            height=520,
                            render_markdown=False,
                            sanitize_html=True,
                            allow_tags=False,
                            latex_delimiters=[],
                            feedback_options=("Like", "Dislike"),
                            buttons=["copy"],
                            placeholder="可以问知识库中文章里的事实，例如基金管理费、汽车出口量。",
                        )
                        with gr.Row():
                            question = gr.Textbox(
                                placeholder=IDLE_PLACEHOLDER,
                                show_label=False,
                                scale=5,
                                max_length=settings.max_question_chars,
                                elem_id="rag-question",
                            )
                            send = gr.Button("发送", variant="primary", scale=1, elem_id="rag-send")
                            stop = gr.Button("停止", variant="stop", scale=1, visible=False, elem_id="rag-stop")
                        with gr.Row():
                            clear = gr.Button("新对话", elem_id="rag-clear", size="sm")
                            regen = gr.Button("重新生成", elem_id="rag-regenerate", size="sm")
                        gr.Markdown("示例问题（来自知识库中的文章，点击填入）：", elem_id="rag-examples-label")
                        with gr.Row(elem_id="rag-examples"):
                            example_buttons = [
                                gr.Button("", size="sm", visible=False, elem_id=f"rag-example-{i}")
                                for i in range(EXAMPLE_COUNT)
                            ]
                        with gr.Accordion("设置", open=False):
                            top_k = gr.Slider(
                                1, 10, value=settings.top_k, step=1, label="检索段落数 (top-k)", elem_id="rag-k"
                            )
                            mode = gr.Radio(
                                choices=[(f"{MODE_LABELS[m]} ({m})", m) for m in available_modes(settings)],
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
                    # An upload button rather than gr.File: its drop zone speaks English
                    # ("Drop File Here"), and its file_types check fails the whole event
                    # with an English error; the handler checks types and says which file.
                    upload_btn = gr.UploadButton(
                        "选择文件，上传并建立索引",
                        file_count="multiple",
                        variant="primary",
                        elem_id="rag-upload-btn",
                    )
                    replace = gr.Checkbox(label="替换同名的已上传文件", value=False, elem_id="rag-replace")
                    reingest_btn = gr.Button("重新建立索引", elem_id="rag-reingest")
                    refresh_btn = gr.Button("刷新列表", elem_id="rag-refresh")
                status = gr.Textbox(label="状态", interactive=False, lines=3, elem_id="rag-admin-status")
                files = gr.Dataframe(
                    headers=HEADERS,
                    datatype=DATATYPES,
                    interactive=False,
                    label="知识库中的文件（含未能建立索引的文件及原因）",
                    elem_id="rag-files",
                    wrap=True,
                )
                with gr.Row():
                    to_remove = gr.Dropdown(choices=[], label="选择要删除的文件", scale=3, elem_id="rag-remove-choice")
                    remove_btn = gr.Button("删除文件并重建索引", variant="stop", scale=1, elem_id="rag-remove")

        # ------------------------------------------------------------ chat wiring
        chat_outputs = [chatbot, question, sources, turns, saved, send, stop, regen, retrieving]

        def _chat(q: str, m: list, t: list, k: float, md: str) -> Iterator[tuple[Any, ...]]:
            yield from _with_controls(lambda found: handlers.chat(get_service, q, m, t, k, md, found))

        def _regenerate(m: list, t: list, k: float, md: str) -> Iterator[tuple[Any, ...]]:
            yield from _with_controls(lambda found: handlers.regenerate(get_service, m, t, k, md, found))

        chat_inputs = [question, chatbot, turns, top_k, mode]
        running = [
            trigger(_chat, chat_inputs, chat_outputs, concurrency_limit=4, trigger_mode="once")
            for trigger in (question.submit, send.click)
        ]
        running.append(
            regen.click(_regenerate, [chatbot, turns, top_k, mode], chat_outputs, concurrency_limit=4, trigger_mode="once")
        )

        def _stop(m: list, t: list, found: list) -> tuple[Any, ...]:
            chat, panel, new_turns = handlers.stopped(m, t, found)
            idle = (chat, gr.update(placeholder=IDLE_PLACEHOLDER), panel, new_turns, save_turns(new_turns))
            return (*idle, *_controls(busy=False), [])

        # cancels= closes the running generator: the service's stream and the LLM request
        # under it are closed too, which frees the model for the next question.
        stop.click(_stop, [chatbot, turns, retrieving], chat_outputs, cancels=running, queue=False)

        def _clear() -> tuple[Any, ...]:
            return [], gr.skip(), EMPTY_SOURCES, [], [], *_controls(busy=False), []

        clear.click(_clear, None, chat_outputs, cancels=running, queue=False)
        chatbot.clear(_clear, None, chat_outputs, cancels=running, queue=False)  # its own trash button

        def _feedback(t: list, data: gr.LikeData) -> None:  # the annotation makes Gradio pass LikeData
            handlers.feedback(feedback_log, t, data)

        chatbot.like(_feedback, [turns], None)

        for button in example_buttons:
            button.click(lambda text: text, [button], [question], queue=False)

        def _restore(stored: Any) -> tuple[Any, Any, Any]:
            restored = load_turns(stored)
            return render_messages(restored), render_sources(restored), restored

        demo.load(_restore, [saved], [chatbot, sources, turns], queue=False)

        def _overview() -> tuple[Any, ...]:
            found = handlers.knowledge_base(get_service)
            examples = handlers.examples_for(found)
            buttons = [
                gr.update(value=examples[i], visible=True) if i < len(examples) else gr.update(visible=False)
                for i in range(EXAMPLE_COUNT)
            ]
            return (render_overview(found) if found else "", *buttons)

        demo.load(_overview, None, [overview, *example_buttons])

        # ------------------------------------------------------------ admin wiring
        admin_outputs = [files, to_remove, status]

        # Gradio finds its progress tracker through this default value: it must be a call.
        def _reingest(token: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, ...]:  # noqa: B008
            return handlers.admin_ingest(get_service, progress, skips, token=token, required=required)

        def _upload(
            token: str,
            f: list | None,
            rep: bool,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, ...]:
            return handlers.admin_upload(get_service, f, progress, skips, replace=rep, token=token, required=required)

        def _refresh_files(token: str) -> tuple[Any, ...]:
            return handlers.admin_refresh(get_service, skips, token=token, required=required)

        def _remove(token: str, name: str | None) -> tuple[Any, ...]:
            return handlers.admin_remove(get_service, name, skips, token=token, required=required)

        gr.on(
            [refresh_btn.click, admin_token.submit],
            _refresh_files,
            [admin_token],
            admin_outputs,
            api_name="admin_refresh",
        )
        reingest_btn.click(_reingest, [admin_token], admin_outputs, concurrency_id="ingest", api_name="admin_reingest")
        upload_btn.upload(
            _upload,
            [admin_token, upload_btn, replace],
            admin_outputs,
            concurrency_id="ingest",
            api_name="admin_upload",
        )
        remove_btn.click(
            _remove, [admin_token, to_remove], admin_outputs, concurrency_id="ingest", api_name="admin_remove"
        )

        def _load_files() -> tuple[Any, ...]:
            try:
                get_service()
            except Exception:  # still loading: the admin can press refresh later, no toast on page load
                return gr.skip(), gr.skip()
            table, choices, _ = handlers.admin_refresh(get_service, skips)
            return table, choices

        if not required:  # with a token the list waits until it is entered
            demo.load(_load_files, None, [files, to_remove])
    demo.queue(default_concurrency_limit=2)
    return demo
