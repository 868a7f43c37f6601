"""The LLM server process itself: ``python -m rag.llm_runtime.child --model … --port …``.

``rag.llm_runtime.server.LocalLLMServer`` spawns this module; it can also be run by
hand.  ``xllamacpp.Server(params)`` loads the model and then starts llama.cpp's C++
HTTP server in a background thread (the constructor returns once it is listening);
there is no stop method, so the process simply exits on SIGTERM/SIGINT, or when the
process that started it goes away.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Annotated, Any, NoReturn, Optional

import typer

from rag.llm_runtime.net import is_loopback, url_host

log = logging.getLogger(__name__)


app = typer.Typer(add_completion=False, pretty_exceptions_enable=False,
                  help="Serve a GGUF model over an OpenAI-compatible API.")


@app.command()
def main(
    model: Annotated[Optional[Path], typer.Option(help="GGUF file (default: settings.llm_model_path).")] = None,
    host: str = "127.0.0.1",
    port: Annotated[Optional[int], typer.Option(help="Default: settings.llm_port.")] = None,
    threads: Annotated[Optional[int], typer.Option(help="Default: settings.llm_threads.")] = None,
    ctx: Annotated[Optional[int], typer.Option(help="Default: settings.llm_context.")] = None,
    threads_batch: Annotated[
        Optional[int], typer.Option(help="Threads for prompt evaluation (default: --threads).")
    ] = None,
    parallel: int = 1,
    cache_ram_mib: int = 1024,
    alias: str = "",
    poll: Annotated[Optional[int], typer.Option(help="Thread polling level 0-100.")] = None,
    parent_pid: Annotated[
        Optional[int], typer.Option(help="Exit when this process is no longer our parent.")
    ] = None,
    verbosity: int = 3,
) -> None:
    """Serve MODEL on HOST:PORT until SIGTERM/SIGINT (or the parent process dies)."""
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not is_loopback(host):
        raise typer.BadParameter(f"refusing to bind to non-loopback host {host!r}", param_hint="--host")
    if model is None or port is None or threads is None or ctx is None:
        from rag.config import get_settings

        s = get_settings()
        model = model or s.llm_model_path
        port = s.llm_port if port is None else port
        threads = threads or s.llm_threads
        ctx = ctx or s.llm_context
    if not model.is_file():
        raise typer.BadParameter(f"model not found: {model}", param_hint="--model")
    import xllamacpp as xlc

    params = xlc.CommonParams()
    params.model.path = str(model)
    params.model_alias = {alias or model.stem}
    params.hostnames = [host]
    params.port = port
    params.n_ctx = ctx  # 0 would mean the model's 32k: a far bigger KV cache
    params.n_parallel = parallel  # slots; ctx is shared between them
    params.cpuparams.n_threads = threads  # generation (one token at a time)
    params.cpuparams_batch.n_threads = threads_batch or threads  # prompt evaluation
    if poll is not None:  # 0-100: how hard idle worker threads spin (llama.cpp: 50)
        params.cpuparams.poll = poll
        params.cpuparams_batch.poll = poll
    # Prompt caching: reuse the KV of the longest common prefix with the slot's
    # previous prompt (cache_prompt), also shifting matching chunks of at least
    # n_cache_reuse tokens after a divergence; idle slots are saved to a host
    # RAM cache (cache_ram_mib) so another prompt can pick them up again.
    params.cache_prompt = True
    params.n_cache_reuse = 256
    params.cache_idle_slots = True
    params.cache_ram_mib = cache_ram_mib
    params.ctx_shift = False  # fail over-long prompts instead of silently dropping context
    params.endpoint_metrics = True
    # Only the app talks to this server (server-side), never a browser page:
    # don't let arbitrary web origins read its answers (llama.cpp allows "*").
    params.cors_origins = f"http://{url_host(host)}"
    params.cors_origins_explicit = True
    params.ui = False
    params.verbosity = verbosity
    serve(params, parent_pid)


def serve(params: Any, parent_pid: int | None = None) -> NoReturn:
    """Run llama.cpp's server (``xllamacpp.CommonParams``) in this process until
    SIGTERM/SIGINT, or until ``parent_pid`` is no longer our parent."""
    import xllamacpp as xlc

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    t0 = time.monotonic()
    server = xlc.Server(params)  # returns once the model is loaded and HTTP is listening
    log.info("llama.cpp server for %s listening on %s (load %.1fs, pid %d)", Path(params.model.path).name,
             server.listening_address, time.monotonic() - t0, os.getpid())

    while not stop.wait(1.0):
        if parent_pid is not None and os.getppid() != parent_pid:
            log.warning("Parent process %d is gone; shutting down", parent_pid)
            break
    log.info("LLM server shutting down")
    sys.stdout.flush()
    sys.stderr.flush()
    # xllamacpp has no shutdown API; leave without running destructors under
    # the still-running native HTTP threads.
    os._exit(0)


if __name__ == "__main__":
    app()
