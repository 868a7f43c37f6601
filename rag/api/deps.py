"""What the routes depend on: the service (loaded in the background), the settings, the token check."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

from fastapi import Depends, FastAPI, Request

from rag.api.auth import UNAUTHORIZED, Bearer, bearer_of, may_read, settings_of
from rag.api.errors import ApiError
from rag.config import Settings, token_accepted
from rag.service import RagService

log = logging.getLogger(__name__)


class ServiceHolder:
    """Builds and warms up the service off the event loop, so the server answers /healthz (503) meanwhile.

    Loading the embedder and index takes tens of seconds on CPU; a server that
    blocks startup that long looks dead to a load balancer or `curl`. A ``service``
    handed in (tests, benchmarks) is used as it is: warming it up is its owner's job.
    """

    def __init__(self, settings: Settings, index_dir: Path | None = None, service: RagService | None = None):
        self._settings = settings
        self._index_dir = index_dir
        self._service = service
        self._error: str | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start loading in a background thread (once; nothing to do for a given service)."""
        if self._service is not None or self._thread is not None:
            return
        self._thread = threading.Thread(target=self._load, name="rag-service-load", daemon=True)
        self._thread.start()

    def _load(self) -> None:
        try:
            service = RagService(self._settings, self._index_dir)
            service.warm_up()
        except Exception as exc:  # reported by /healthz rather than killing the server
            log.exception("loading the service failed")
            self._error = f"{type(exc).__name__}: {exc}"
            return
        self._service = service  # published only once warm: requests never see a half-loaded one
        log.info("service ready: index version %s", service.index_version)

    @property
    def error(self) -> str | None:
        return self._error

    def get(self) -> RagService:
        """The ready service; an ``ApiError`` (503) while it loads or after it failed to."""
        if self._service is None:
            if self._error:
                raise ApiError(503, f"服务加载失败 (service failed to load): {self._error}")
            raise ApiError(503, "索引和模型正在加载，请稍候 (index and models are loading, retry shortly)")
        return self._service

    def peek(self) -> RagService | None:
        return self._service


def holder_of(app: FastAPI) -> ServiceHolder:
    return app.state.holder


def service_getter(app: FastAPI) -> Callable[[], RagService]:
    """For code mounted next to the API (the UI): the service, raising while it loads."""
    return holder_of(app).get


def request_holder(request: Request) -> ServiceHolder:
    return holder_of(request.app)


def ready_service(request: Request) -> RagService:
    """Dependency: the loaded service, or a 503 while it loads."""
    return holder_of(request.app).get()


ReadyService = Annotated[RagService, Depends(ready_service)]
AppSettings = Annotated[Settings, Depends(settings_of)]
Holder = Annotated[ServiceHolder, Depends(request_holder)]

def require_token(readable: Annotated[bool, Depends(may_read)]) -> None:
    """Dependency: 401 unless no token is configured, or the bearer token (or the login cookie) is it."""
    if not readable:
        raise ApiError(401, UNAUTHORIZED)


def require_admin(request: Request, _: Bearer) -> None:
    """Dependency for document and feedback administration: the admin token
    (``RAG_ADMIN_TOKEN``, else ``RAG_API_TOKEN``) as a bearer token; open when neither is set."""
    given = bearer_of(request.headers.get("authorization"))
    if not token_accepted(settings_of(request).required_admin_token, given):
        raise ApiError(401, "缺少或错误的管理令牌 (missing or invalid admin bearer token)")
