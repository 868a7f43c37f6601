"""A real ``rag`` API server whose /v1/embeddings serves the hash embedder: the endpoint the
remote embedder's tests call (started once per test session, on a free loopback port)."""

from __future__ import annotations

from contextlib import ExitStack
from pathlib import Path
import tempfile

from rag.config import Settings
from rag.embed.fake import HashEmbedder

SERVED = HashEmbedder(dimension=384)
_running: dict[str, str] = {}
_stack = ExitStack()


def embeddings_url(settings: Settings) -> str:
    """Base URL (``…/v1``) of the session's server, started on first use."""
    if "url" not in _running:
        from rag.api.app import create_app
        from rag.server import running_server
        from rag.service import RagService
        from tests.retrieve.small_index import build_small_index

        folder = Path(_stack.enter_context(tempfile.TemporaryDirectory(prefix="rag-embeddings-")))
        build_small_index(folder, SERVED)
        configured = settings.model_copy(update={"api_token": "", "cors_origins": []})
        service = RagService(configured, folder, embedder=SERVED).warm_up()
        _running["url"] = _stack.enter_context(running_server(create_app(configured, service=service))) + "/v1"
    return _running["url"]


def stop() -> None:
    _stack.close()
    _running.clear()
