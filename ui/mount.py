"""Put the chat UI on the API's FastAPI app: Gradio at /ui, and / redirecting to it.

Called by the server entry point after ``rag.api.app.create_app``; the API itself
knows nothing of the UI (dependencies point ui → api → service).
"""

from __future__ import annotations

import gradio as gr
from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from rag.config import Settings
from ui.handlers import ServiceGetter
from ui.layout import CSS, HEAD, build_ui

UI_PATH = "/ui"


def mount_ui(app: FastAPI, get_service: ServiceGetter, settings: Settings) -> FastAPI:
    """Mount the Gradio UI on ``app`` at /ui and redirect / there; returns ``app``.

    ``get_service`` returns the ready service or raises while it is loading (the API's
    ``app.state.holder.get``); the UI shows that error's message instead of answering.
    """
    blocks = build_ui(get_service, settings)
    gr.mount_gradio_app(
        app,
        blocks,
        path=UI_PATH,
        css=CSS,
        head=HEAD,
        footer_links=["api"],
        run_history=False,
        pwa=False,
        max_file_size="50mb",
    )

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/")

    return app
