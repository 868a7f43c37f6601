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

import json
from collections.abc import Callable

import gradio as gr
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

from rag.api.auth import RequireCredential, login_router, request_ok
from rag.api.errors import error_body
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


class UnknownQueueSession:
    """ASGI middleware: ``GET /ui/gradio_api/queue/data`` for a session the queue does not know is a 404.

    Gradio raises that 404 only after its event stream has started (a 200 is on the wire),
    so the client gets a cut-off chunked response and the log a traceback (found by
    bench/fuzz_api.py). A real page always joins the queue first, which creates the session.
    """

    def __init__(self, app: ASGIApp, blocks: gr.Blocks, path: str):
        self.app = app
        self.blocks = blocks
        self.path = path

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == self.path:
            session = Request(scope).query_params.get("session_hash")
            # Gradio's queue keeps its sessions here (not public API: skipped if it moves).
            known = getattr(getattr(self.blocks, "_queue", None), "pending_messages_per_session", None)
            if session and known is not None and session not in known:
                body = json.dumps(error_body("没有这个会话 (unknown queue session)", "not_found_error"), ensure_ascii=False)
                await Response(body, status_code=404, media_type="application/json")(scope, receive, send)
                return
        await self.app(scope, receive, send)


async def _gradio_validation_error(request: Request, exc: Exception) -> Response:
    """FastAPI's default 422 for Gradio's routes, without echoing the input: the default handler
    fails with a 500 on an input JSON cannot encode (``1e999999`` parses as inf; bench/fuzz_api.py)."""
    errors = exc.errors() if isinstance(exc, RequestValidationError) else []
    detail = [{"type": e.get("type"), "loc": list(e.get("loc", ())), "msg": e.get("msg")} for e in errors]
    return Response(json.dumps({"detail": detail}, ensure_ascii=False), status_code=422, media_type="application/json")


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
    gradio_app = next(route.app for route in app.routes if getattr(route, "path", None) == UI_PATH)
    gradio_app.add_exception_handler(RequestValidationError, _gradio_validation_error)
    app.add_middleware(UnknownQueueSession, blocks=blocks, path=f"{UI_PATH}/gradio_api/queue/data")
    if required:  # added last: runs first, so nothing of the UI answers without the credential
        app.add_middleware(RequireCredential, prefixes=[UI_PATH], required=lambda: required)
    app.include_router(login_router)

    @app.get("/", include_in_schema=False)
    def _root() -> RedirectResponse:
        return RedirectResponse(f"{UI_PATH}/")

    return app
