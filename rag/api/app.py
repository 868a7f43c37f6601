"""The HTTP API application: the JSON API, the OpenAI-compatible API and the health check.

The error convention (``rag.api.errors``) is the OpenAPI description too. The UI and
the widget are mounted next to this app by the composition root (``rag.server``):
the api package knows nothing of them.
"""

from __future__ import annotations

import logging
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi_offline import FastAPIOffline

import rag
from rag.api import errors
from rag.api.deps import ServiceHolder, require_token
from rag.api.documents import router as documents_router
from rag.api.embeddings import router as embeddings_router
from rag.api.feedback import router as feedback_router
from rag.api.jobs import JobRunner
from rag.api.openai_compat import router as openai_router
from rag.api.routes import api_router, ops_router
from rag.api.schemas import describe_fields
from rag.config import Settings
from rag.feedback import FeedbackStore
from rag.service import RagService

log = logging.getLogger(__name__)


def create_app(settings: Settings, *, service: RagService | None = None, index_dir: Path | None = None) -> FastAPI:
    """The API app on ``settings``.

    Without ``service`` one is built from ``settings`` and ``index_dir`` and warmed up
    in a background thread at startup (``/healthz`` says 503 meanwhile); a given
    ``service`` is used as it is.
    """
    holder = ServiceHolder(settings, index_dir, service)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        holder.start()
        yield

    # FastAPIOffline: /docs (Swagger UI) and /redoc from assets in the package, served under
    # /static-offline-docs; FastAPI's own pages load them from a CDN, blank on an offline network.
    app = FastAPIOffline(
        title="RAG 知识库问答 API",
        version=rag.__version__,
        description=errors.__doc__,
        lifespan=lifespan,
        responses=errors.ERROR_RESPONSES,
    )
    app.state.holder = holder
    app.state.settings = settings
    errors.install_error_handlers(app)
    _install_cors(app, settings)

    app.state.feedback = FeedbackStore.in_data_dir(settings.data_dir)
    app.state.jobs = JobRunner()

    secured = [Depends(require_token)]
    app.include_router(ops_router)
    app.include_router(api_router, dependencies=secured)
    app.include_router(openai_router, dependencies=secured)
    app.include_router(embeddings_router, dependencies=secured)
    app.include_router(feedback_router)  # POST: the API token; GET: the admin token
    app.include_router(documents_router)  # the admin token
    _document_fields(app)
    return app


def _install_cors(app: FastAPI, settings: Settings) -> None:
    if not settings.cors_origins:
        log.info("RAG_CORS_ORIGINS is empty: the widget works only on pages of this origin and via /embed")
        return
    app.add_middleware(
        CORSMiddleware,
        allow_origins=list(settings.cors_origins),
        allow_methods=["GET", "POST", "OPTIONS"],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
    )


def _document_fields(app: FastAPI) -> None:
    """Field descriptions for the engine's dataclasses in /openapi.json (FastAPI's "extending OpenAPI")."""
    build = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = describe_fields(build())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
