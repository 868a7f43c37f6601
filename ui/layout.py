"""The Gradio Blocks of the chat UI: the chat tab, the admin tab, and their wiring.

The page's CSS and the citation-link script live in ``ui/static`` (ui.css,
cite_links.js); ``CSS`` and ``HEAD`` are what ``gr.mount_gradio_app`` takes.
"""

from __future__ import annotations

from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any

import gradio as gr

from rag.config import Settings, available_modes
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from ui.feedback import FeedbackLog
from ui import handlers
from ui.handlers import ServiceGetter
from ui.render import EMPTY_SOURCES

EXAMPLES = [
    "黑石BXPE基金的管理费是多少？",
    "2023年中国汽车出口了多少辆？",
    "盛景嘉成的创始合伙人叫什么名字？",
    "2023年上半年在A股上市的中国公司有多少家？",
]
MODE_LABELS = {"local": "本地大模型", "openai": "OpenAI 兼容接口", "extractive": "抽取式（不用大模型）"}

_STATIC = resources.files("ui") / "static"
CSS = (_STATIC / "ui.css").read_text(encoding="utf-8")
HEAD = f"<script>\n{(_STATIC / 'cite_links.js').read_text(encoding='utf-8')}</script>\n"


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
            yield from handlers.chat(get_service, q, m, t, k, md)

        for trigger in (question.submit, send.click):
            trigger(_chat, [question, chatbot, turns, top_k, mode], chat_outputs, concurrency_limit=4)
        clear.click(lambda: ([], "", EMPTY_SOURCES, []), None, chat_outputs, queue=False)

        def _feedback(t: list, data: gr.LikeData) -> None:  # the annotation makes Gradio pass LikeData
            handlers.feedback(feedback_log, t, data)

        chatbot.like(_feedback, [turns], None)

        # Gradio finds its progress tracker through this default value: it must be a call.
        def _reingest(token: str, progress: gr.Progress = gr.Progress()) -> tuple[Any, Any, str]:  # noqa: B008
            return handlers.admin_ingest(get_service, progress, token=token, required=required)

        def _upload(
            token: str,
            f: list | None,
            progress: gr.Progress = gr.Progress(),  # noqa: B008
        ) -> tuple[Any, Any, str, None]:
            return handlers.admin_upload(get_service, f, progress, token=token, required=required)

        def _refresh_files(token: str) -> tuple[Any, Any]:
            return handlers.admin_refresh(get_service, token=token, required=required)

        def _remove(token: str, name: str | None) -> tuple[Any, Any, str]:
            return handlers.admin_remove(get_service, name, token=token, required=required)

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
                return handlers.admin_refresh(get_service)
            except gr.Error:  # service still loading: the admin can press refresh later
                return [], gr.update(choices=[])

        if not required:  # with a token the list waits until it is entered
            demo.load(_load_files, None, [files, to_remove])
    demo.queue(default_concurrency_limit=2)
    return demo
