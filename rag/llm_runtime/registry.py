"""The local LLM servers this process shares: reuse one that answers, or start one.

Every answer mode that runs locally asks ``ensure_local_server(settings)`` for a base
URL.  A llama.cpp server already listening on ``settings.llm_host:llm_port`` (started
by another process, or by ``rag serve`` earlier) is reused; otherwise one is started
and kept until this process exits (atexit), so a question does not pay for loading
the model twice.
"""

from __future__ import annotations

import atexit
import contextlib
import logging
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from rag.llm_runtime.net import get_json, probe, root_url
from rag.llm_runtime.server import (
    DEFAULT_START_TIMEOUT_S,
    LLMServerError,
    LocalLLMServer,
    wait_until_ready,
)

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

_managed: dict[tuple[str, int], LocalLLMServer] = {}
_managed_lock = threading.Lock()


def stop_managed(host: str | None = None, port: int | None = None) -> int:
    """Stop the servers this process started (all, or the one on ``host:port``); how many."""
    # No lock: at exit a daemon thread may hold it forever, and stopping twice is harmless.
    keys = [key for key in list(_managed) if host is None or key == (host, port)]
    for key in keys:
        srv = _managed.pop(key, None)
        if srv is not None:
            with contextlib.suppress(Exception):  # at exit: stop the others all the same
                srv.stop()
    return len(keys)


atexit.register(stop_managed)


def ensure_local_server(
    settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S
) -> str:
    """Base URL (``http://host:port/v1``) of a ready local LLM server.

    Reuses whatever llama.cpp server already answers on
    ``settings.llm_host:llm_port``; otherwise starts one for
    ``settings.llm_model_path`` (assembling the GGUF first if it is one of
    the known models and missing) and keeps it until this process exits.
    Raises ``LLMServerError`` when no server can be had.
    """
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    host, port = settings.llm_host, settings.llm_port
    root = root_url(host, port)

    with _managed_lock:
        srv = _managed.get((host, port))
        state = probe(root)
        if state != "down":
            if state != "ok":  # loading; raises at once when what answers is not llama.cpp
                wait_until_ready(root, timeout, poll_s=0.5)
            _warn_if_other_model(root, Path(settings.llm_model_path))
            return f"{root}/v1"
        if srv is not None:  # ours, but dead: replace it
            log.warning("Managed LLM server on %s is gone; restarting it", root)
            srv.stop()

        model = _model_file(Path(settings.llm_model_path))
        log_path = Path(settings.data_dir) / f"llm_server-{port}.log"
        srv = LocalLLMServer(model, host=host, port=port, threads=settings.llm_threads,
                             ctx=settings.llm_context, threads_batch=settings.llm_threads_batch,
                             cache_ram_mib=settings.llm_cache_ram_mib, log_path=log_path)
        try:
            srv.start(timeout)
        except LLMServerError:
            # Another process may have won the race for the port.
            if probe(root) == "ok":
                log.info("Another LLM server came up on %s; using it", root)
                return f"{root}/v1"
            raise
        _managed[(host, port)] = srv
        return srv.base_url


def _model_file(model: Path) -> Path:
    """The GGUF to serve, assembled first when it is a known model that is missing."""
    if model.is_file():
        return model
    from rag.models.llm_assemble import AssemblyError, assemble, spec_for_filename

    spec = spec_for_filename(model.name)
    if spec is None:
        raise LLMServerError(f"找不到本地大模型文件（GGUF model not found: {model}）",
                             reason="FileNotFoundError")
    try:
        assemble(spec.variant, model.parent)  # type: ignore[arg-type]
    except AssemblyError as exc:
        raise LLMServerError(f"本地大模型文件组装失败（{exc}）", reason=type(exc).__name__) from exc
    return model


def _warn_if_other_model(root: str, model: Path) -> None:
    """Log a warning when the running server serves another GGUF than configured."""
    data = get_json(f"{root}/v1/models")
    ids = [str(m.get("id", "")) for m in data.get("data", [])] if isinstance(data, dict) else []
    if ids and not any(model.stem in i or model.name in i for i in ids):
        log.warning("Reusing the LLM server on %s, which serves %s, not %s", root, ids,
                    model.name)
