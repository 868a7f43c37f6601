"""The local LLM servers this process shares: reuse one that answers, or start one.

Every answer mode that runs locally asks ``ensure_local_server(settings)`` for a base
URL.  A llama.cpp server already listening on ``settings.llm_host:llm_port`` (started
by another process, or by ``rag serve`` earlier) is reused; otherwise one is started
and kept until this process exits (atexit), so a question does not pay for loading
the model twice. Each is supervised (``rag.llm_runtime.supervisor``): restarted on the
same port when it dies, so the generators bound to its URL keep working.
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
from rag.llm_runtime.supervisor import LLMStatus, SupervisedServer

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

_managed: dict[tuple[str, int], SupervisedServer] = {}
_managed_lock = threading.Lock()


def stop_managed(host: str | None = None, port: int | None = None) -> int:
    """Stop the servers this process started or watches (all, or the one on ``host:port``); how many
    of them were its own child processes."""
    # No lock: at exit a daemon thread may hold it forever, and stopping twice is harmless.
    keys = [key for key in list(_managed) if host is None or key == (host, port)]
    own = 0
    for key in keys:
        sup = _managed.pop(key, None)
        if sup is not None:
            own += sup.server.is_running() or sup.status().state in ("running", "restarting")
            with contextlib.suppress(Exception):  # at exit: stop the others all the same
                sup.stop()
    return own


atexit.register(stop_managed)


def local_server_status(settings: Settings) -> LLMStatus | None:
    """The supervised local LLM server on ``settings.llm_host:llm_port``; None before the first
    local question started (or found) one."""
    sup = _managed.get((settings.llm_host, settings.llm_port))
    return sup.status() if sup is not None else None


def ensure_local_server(
    settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S
) -> str:
    """Base URL (``http://host:port/v1``) of a ready local LLM server.

    Reuses whatever llama.cpp server already answers on
    ``settings.llm_host:llm_port``; otherwise starts one for
    ``settings.llm_model_path`` (assembling the GGUF first if it is one of
    the known models and missing) and keeps it until this process exits.
    Either way a ``SupervisedServer`` watches it and brings it back on the same
    port when it dies (``rag.llm_runtime.supervisor``).
    Raises ``LLMServerError`` when no server can be had.
    """
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    host, port = settings.llm_host, settings.llm_port
    root = root_url(host, port)

    with _managed_lock:
        sup = _managed.get((host, port))
        if sup is not None and sup.status().state == "failed":
            sup.stop()  # gave up earlier: a new request may try afresh
            _managed.pop((host, port), None)
            sup = None
        state = probe(root)
        if state != "down":
            if state != "ok":  # loading; raises at once when what answers is not llama.cpp
                wait_until_ready(root, timeout, poll_s=0.5)
            _warn_if_other_model(root, Path(settings.llm_model_path))
            if sup is None:  # someone else's server: watch it, take over if it dies
                _managed[(host, port)] = SupervisedServer(_server_for(settings, Path(settings.llm_model_path)),
                                                          start_timeout=timeout).adopt()
            return f"{root}/v1"
        if sup is not None:
            if sup.status().state == "restarting":
                raise LLMServerError(f"本地大模型服务正在重启（LLM server on {root} is restarting）",
                                     reason="LLM server restarting")
            log.warning("Managed LLM server on %s is gone; restarting it", root)
            sup.stop()
            _managed.pop((host, port), None)

        sup = SupervisedServer(_server_for(settings, _model_file(Path(settings.llm_model_path))),
                               start_timeout=timeout)
        try:
            sup.start()
        except LLMServerError:
            # Another process may have won the race for the port.
            if probe(root) == "ok":
                log.info("Another LLM server came up on %s; using it", root)
                _managed[(host, port)] = sup.adopt()
                return f"{root}/v1"
            raise
        _managed[(host, port)] = sup
        return sup.base_url


def _server_for(settings: Settings, model: Path) -> LocalLLMServer:
    return LocalLLMServer(model, host=settings.llm_host, port=settings.llm_port, threads=settings.llm_threads,
                          ctx=settings.llm_context, threads_batch=settings.llm_threads_batch,
                          cache_ram_mib=settings.llm_cache_ram_mib,
                          log_path=Path(settings.data_dir) / f"llm_server-{settings.llm_port}.log")


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
