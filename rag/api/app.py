"""The HTTP server: JSON API, OpenAI-compatible API, widget, and the Gradio UI, in one process.

Error convention (documented in the OpenAPI description too): every error body is
``{"error": {"message", "type"}}``.

* 400 ``invalid_request_error`` - the body is not valid JSON;
* 422 ``invalid_request_error`` - valid JSON with a wrong field (missing, wrong type,
  unknown field, k out of range) or a question the service rejects (empty, too long,
  unknown mode);
* 401 ``authentication_error`` - ``RAG_API_TOKEN`` is set and the bearer token is missing or wrong;
* 404 ``not_found_error`` / 405 ``method_not_allowed``;
* 503 ``service_unavailable`` - the index and models are still loading (or failed to).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager
from importlib import resources
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.middleware.cors import CORSMiddleware
from fastapi.responses import FileResponse, JSONResponse, RedirectResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

import rag
from rag.api.schemas import AskRequest, AskResponse, ErrorResponse, HealthResponse, SearchRequest, SearchResponse
from rag.config import Settings, get_settings, token_accepted
from rag.service import QuestionError, RagService

log = logging.getLogger(__name__)

# Through the package, not a path relative to this file: works installed or editable.
STATIC_DIR = Path(str(resources.files("ui") / "static"))
UI_PATH = "/ui"

_ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {code: {"model": ErrorResponse} for code in (400, 401, 422, 503)}
_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "method_not_allowed",
    422: "invalid_request_error",
    503: "service_unavailable",
}


class ApiError(Exception):
    """An error with a status code and a message meant for the client."""

    def __init__(self, status: int, message: str, type_: str | None = None):
        super().__init__(message)
        self.status = status
        self.message = message
        self.type = type_ or _ERROR_TYPES.get(status, "api_error")


def error_body(message: str, type_: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": type_}}


class ServiceHolder:
    """Loads the service off the event loop so the server answers /healthz (503) meanwhile.

    Loading the embedder and index takes tens of seconds on CPU; a server that
    blocks startup that long looks dead to a load balancer or `curl`.
    """

    def __init__(self, service: RagService | None = None, index_dir: Path | None = None):
        self._service = service
        self._index_dir = index_dir
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._service is not None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="rag-service-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        from rag.service import get_service

        try:
            self._service = get_service(self._index_dir)
            log.info("service ready: index version %s", self._service.index_version)
        except Exception as exc:  # reported by /healthz rather than killing the server
            log.exception("loading the service failed")
            self._error = f"{type(exc).__name__}: {exc}"

    @property
    def error(self) -> str | None:
        return self._error

    def get(self) -> RagService:
        if self._service is None:
            if self._error:
                raise ApiError(503, f"服务加载失败 (service failed to load): {self._error}")
            raise ApiError(503, "索引和模型正在加载，请稍候 (index and models are loading, retry shortly)")
        return self._service

    def peek(self) -> RagService | None:
        return self._service


def _holder(request: Request) -> ServiceHolder:
    return request.app.state.holder


def ready_service(request: Request) -> RagService:
    """Dependency: the loaded service, or a 503 while it loads."""
    return _holder(request).get()


ReadyService = Annotated[RagService, Depends(ready_service)]


_bearer = HTTPBearer(auto_error=False, description="Needed only when RAG_API_TOKEN is set.")


def require_token(
    request: Request, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> None:
    given = credentials.credentials if credentials else None
    if not token_accepted(request.app.state.settings.api_token, given):
        raise ApiError(401, "缺少或错误的访问令牌 (missing or invalid bearer token)")


def _validation_message(exc: RequestValidationError) -> tuple[int, str]:
    errors = exc.errors()
    if any(e.get("type") == "json_invalid" for e in errors):
        return 400, "请求体不是有效的 JSON (request body is not valid JSON)"
    parts = []
    for e in errors[:5]:
        loc = ".".join(str(p) for p in e.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {e.get('msg', 'invalid')}")
    return 422, "请求参数无效 (invalid request): " + "; ".join(parts)


def _install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return JSONResponse(error_body(exc.message, exc.type), status_code=exc.status, headers=headers)

    @app.exception_handler(QuestionError)
    async def _question_error(request: Request, exc: QuestionError) -> JSONResponse:
        return JSONResponse(error_body(str(exc), "invalid_request_error"), status_code=422)

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        status, message = _validation_message(exc)
        return JSONResponse(error_body(message, "invalid_request_error"), status_code=status)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
        return JSONResponse(
            error_body(message, _ERROR_TYPES.get(exc.status_code, "api_error")),
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(error_body("服务器内部错误 (internal server error)", "server_error"), status_code=500)


def start_stream(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    """Pull the first event now, so a rejected question becomes a 422, not a broken stream.

    The service validates lazily (ask_stream is a generator); once an SSE response
    has started, its status can no longer change.
    """
    first = next(events, None)

    def chained() -> Iterator[dict[str, Any]]:
        if first is not None:
            yield first
            yield from events

    return chained()


def _sse(events: Iterator[dict[str, Any]]) -> Iterator[dict[str, str]]:
    try:
        for event in events:
            yield {"event": event["type"], "data": json.dumps(event, ensure_ascii=False)}
    except Exception as exc:  # the status is already sent: report in-band
        log.exception("stream failed")
        message = str(exc) if isinstance(exc, QuestionError) else "生成回答时出错 (answer generation failed)"
        yield {"event": "error", "data": json.dumps({"type": "error", **error_body(message, "server_error")})}


def _mount_ui(app: FastAPI, holder: ServiceHolder, settings: Settings) -> None:
    import gradio as gr

    from ui.gradio_app import CSS, HEAD, build_ui

    blocks = build_ui(holder.get, settings)
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


def create_app(
    service: RagService | None = None,
    *,
    index_dir: Path | None = None,
    settings: Settings | None = None,
    ui: bool = True,
) -> FastAPI:
    """Build the app. With no ``service`` one is loaded in the background at startup."""
    from rag.api.openai_compat import router as openai_router

    settings = settings or (service.settings if service is not None else get_settings())
    holder = ServiceHolder(service, index_dir)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.start()
        yield

    app = FastAPI(
        title="RAG 知识库问答 API",
        version=rag.__version__,
        description=__doc__,
        lifespan=lifespan,
        responses=_ERROR_RESPONSES,
    )
    app.state.holder = holder
    app.state.settings = settings
    _install_error_handlers(app)

    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(settings.cors_origins),
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["Authorization", "Content-Type"],
            max_age=600,
        )
    else:
        log.info("RAG_CORS_ORIGINS is empty: the widget works only on pages of this origin and via /embed")

    secured = [Depends(require_token)]

    @app.get("/healthz", response_model=HealthResponse, tags=["ops"], responses={503: {"model": HealthResponse}})
    def healthz(request: Request) -> JSONResponse:
        svc = holder.peek()
        if svc is None:
            status = "error" if holder.error else "loading"
            return JSONResponse({"status": status, "index_version": None, "error": holder.error}, status_code=503)
        files = svc.list_files()  # also picks up a new index version written by ingest
        return JSONResponse(
            {
                "status": "ok",
                "index_version": svc.index_version,
                "chunks": sum(f["chunks"] for f in files),
                "files": len(files),
                "mode": settings.mode,
                "version": rag.__version__,
            }
        )

    @app.post("/api/ask", response_model=AskResponse, tags=["api"], dependencies=secured)
    def ask(body: AskRequest, svc: ReadyService) -> dict[str, Any]:
        """Answer a question with numbered citations ([n] in the answer = citations[].n)."""
        return svc.ask(body.question, history=body.history_dicts(), k=body.k, mode=body.mode)

    @app.post(
        "/api/ask/stream",
        tags=["api"],
        dependencies=secured,
        response_class=EventSourceResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "token events, then one final event"}},
    )
    async def ask_stream(body: AskRequest, svc: ReadyService) -> EventSourceResponse:
        """Server-sent events: ``token`` events ``{"type","text"}``, then ``final`` ``{"type","result"}``."""
        events = svc.ask_stream(body.question, history=body.history_dicts(), k=body.k, mode=body.mode)
        events = await run_in_threadpool(start_stream, events)
        return EventSourceResponse(_sse(events), sep="\n", ping=10)

    @app.post("/api/search", response_model=SearchResponse, tags=["api"], dependencies=secured)
    def search(body: SearchRequest, svc: ReadyService) -> dict[str, Any]:
        """Ranked passages for a query, no answer generation."""
        return svc.search(body.query, k=body.k)

    app.include_router(openai_router, dependencies=secured)

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        # no-cache: hosts embed a fixed URL, so a new release must not be masked by caches.
        return FileResponse(
            STATIC_DIR / "widget.js", media_type="application/javascript", headers={"Cache-Control": "no-cache"}
        )

    @app.get("/embed", include_in_schema=False)
    def embed() -> FileResponse:
        return FileResponse(STATIC_DIR / "embed.html", media_type="text/html", headers={"Cache-Control": "no-cache"})

    if ui:
        _mount_ui(app, holder, settings)
    return app


@contextmanager
def running_server(app: FastAPI, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Run ``app`` with uvicorn in a background thread; yields its base URL.

    Port 0 lets the OS pick a free port (read back from the bound socket), so tests
    and the load benchmark never race for one.
    """
    import uvicorn

    config = uvicorn.Config(app, host=host, port=port, log_level="warning", timeout_graceful_shutdown=2)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn", daemon=True)
    thread.start()
    deadline = time.monotonic() + 60
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.05)
    bound = server.servers[0].sockets[0].getsockname()
    try:
        yield f"http://{host}:{bound[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve(host: str | None = None, port: int | None = None, index_dir: Path | None = None) -> None:
    """Run the server (the `rag serve` command)."""
    import uvicorn

    settings = get_settings()
    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        log.warning("listening on %s without RAG_API_TOKEN: anyone who can reach it can use the API", host)
    app = create_app(index_dir=index_dir, settings=settings)
    log.info("serving on http://%s:%d  (UI %s/, API docs /docs, widget /widget.js)", host, port, UI_PATH)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
