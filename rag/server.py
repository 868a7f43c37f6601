"""The composition root of the web server: the API, the chat UI and the widget in one process.

``rag.api`` knows nothing of the UI; this module puts them together (direction:
server → ui → api → service). ``build_app`` is what ``rag serve`` runs and what
tests that need the whole server build; ``running_server`` runs any app in a thread.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import FileResponse

from rag.api.app import create_app
from rag.api.deps import service_getter
from rag.config import Settings, get_settings
from rag.service import RagService

log = logging.getLogger(__name__)

def build_app(
    settings: Settings, index_dir: Path | None = None, *, service: RagService | None = None, ui: bool = True
) -> FastAPI:
    """The API (``rag.api.app.create_app``) plus the widget and, with ``ui``, the Gradio UI at /ui
    (``ui.mount.mount_ui``, which also redirects / there).

    ``service``: an already built service to use (tests share one); else the API loads
    one from ``settings`` and ``index_dir`` in the background.
    """
    app = create_app(settings, service=service, index_dir=index_dir)
    mount_widget(app)
    if ui:
        from ui.mount import mount_ui

        mount_ui(app, service_getter(app), settings)
    return app


def mount_widget(app: FastAPI) -> None:
    """``/widget.js`` (the embeddable chat widget) and ``/embed`` (a page holding only the widget)."""
    # Through the package, not a path relative to this file: works installed or editable.
    static = Path(str(resources.files("ui") / "static"))
    # no-cache: hosts embed a fixed URL, so a new release must not be masked by caches.
    no_cache = {"Cache-Control": "no-cache"}

    @app.get("/widget.js", include_in_schema=False)
    def widget_js() -> FileResponse:
        return FileResponse(static / "widget.js", media_type="application/javascript", headers=no_cache)

    @app.get("/embed", include_in_schema=False)
    def embed() -> FileResponse:
        return FileResponse(static / "embed.html", media_type="text/html", headers=no_cache)


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


def serve(
    host: str | None = None,
    port: int | None = None,
    index_dir: Path | None = None,
    *,
    settings: Settings | None = None,
    ui: bool = True,
) -> None:
    """Run the server (the `rag serve` command); ``settings`` default to the environment's."""
    import uvicorn

    settings = settings or get_settings()
    host = host or settings.host
    port = port or settings.port
    if host not in ("127.0.0.1", "localhost", "::1") and not settings.api_token:
        log.warning("listening on %s without RAG_API_TOKEN: anyone who can reach it can use the API", host)
    app = build_app(settings, index_dir, ui=ui)
    log.info("serving on http://%s:%d  (UI /ui/, API docs /docs, widget /widget.js)", host, port)
    uvicorn.run(app, host=host, port=port, log_level="info", timeout_graceful_shutdown=5)
