"""Put the chat UI on the API's FastAPI app: Gradio at /ui, and / redirecting to it.

Called by the server entry point after ``rag.api.app.create_app``; the API itself
knows nothing of the UI (dependencies point ui → api → service).

With ``RAG_API_TOKEN`` set the whole of /ui needs the credential (``rag.api.auth``): the
page, and also Gradio's own API (``/ui/gradio_api/info``, the ``/_chat`` handler, the
queue, file routes), which would otherwise answer ``gradio_client`` or ``curl`` with cited
passages. A browser without it is sent to ``/login``, where the user types the token
once (a session cookie then carries it); programs send ``Authorization: Bearer <token>``
(``gradio_client.Client(url, headers={"Authorization": "Bearer …"})``). Gradio is told
the same rule (``auth_dependency``), so its routes refuse even if mounted elsewhere.
"""

from __future__ import annotations

from collections.abc import Callable

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.responses import RedirectResponse

from rag.api.auth import RequireCredential, login_router, request_ok
from rag.config import Settings
from ui.handlers import ServiceGetter
from ui.layout import CSS, HEAD, build_ui

UI_PATH = "/ui"
# What Gradio shows as the signed-in user: there are no accounts, only the one token.
UI_USER = "staff"


def ui_auth(required: str) -> Callable[[Request], str | None] | None:
    """Gradio's ``auth_dependency`` for ``required`` (None = the UI is open)."""
    if not required:
        return None

    def user(request: Request) -> str | None:
        return UI_USER if request_ok(request, required) else None

    return user


def mount_ui(app: FastAPI, get_service: ServiceGetter, settings: Settings) -> FastAPI:
    """Mount the Gradio UI on ``app`` at /ui and redirect / there; returns ``app``.

    ``get_service`` returns the ready service or raises while it is loading (the API's
    ``app.state.holder.get``); the UI shows that error's message instead of answering.
    """
    blocks = build_ui(get_service, settings)
    required = settings.api_token
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
        auth_dependency=ui_auth(required),
    )
    if required:
        app.add_middleware(RequireCredential, prefixes=[UI_PATH], required=lambda: required)
    app.include_router(login_router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/")

    return app
