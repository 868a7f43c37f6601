"""Serve a GGUF model over llama.cpp's OpenAI-compatible HTTP API (via xllamacpp).

The server runs in its own process (``python -m rag.llm_runtime.server``), so
a crash in llama.cpp cannot take the application down, and tests can kill it
to simulate a dead endpoint.  It binds to a loopback address only.

``xllamacpp.Server(params)`` loads the model and then starts llama.cpp's C++
HTTP server in a background thread (the constructor returns once it is
listening); there is no stop method, so the child process simply exits on
SIGTERM/SIGINT, or when the process that started it goes away.

Typical use::

    with LocalLLMServer(model_path, port=8081) as srv:      # start() + stop()
        client = openai.OpenAI(base_url=srv.base_url, api_key="not-needed")

    base_url = ensure_local_server(get_settings())         # reuse or start

Endpoints (llama.cpp server): ``/health``, ``/v1/models``,
``/v1/chat/completions`` (OpenAI, incl. ``stream``), ``/v1/completions``,
``/tokenize``, ``/apply-template``, ``/props``, ``/slots``, ``/metrics``.
Each chat completion response carries llama.cpp ``timings`` (prompt and
generation tokens/s).

Notes:

* The ``model`` field of a request is not checked (one model per server);
  /v1/models lists the GGUF's stem.
* Chat formatting uses the Qwen2.5 Jinja template stored in the GGUF; with no
  system message it inserts "You are Qwen, created by Alibaba Cloud…", so
  always send one.  Generation stops at ``<|im_end|>`` (the GGUF's EOS).
* Prompt caching is on (see ``serve``); a request can opt out with
  ``"cache_prompt": false`` (``extra_body`` in the openai client).
* On a busy 2-core machine ``threads=2`` can be several times slower than
  ``threads=1`` for generation: llama.cpp's worker threads wait on each
  other at every step, and a descheduled thread stalls the other one
  (see bench/llm_speed.py).
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import http.client
import ipaddress
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rag.config import Settings

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 180.0


class LLMServerError(RuntimeError):
    """The local LLM server could not be started or did not become ready."""


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url_host(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _free_port(host: str) -> int:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def probe(root_url: str, timeout: float = 1.0) -> str:
    """What answers at ``root_url``: "ok", "loading", "other" (not llama.cpp) or "down"."""
    # urllib without proxies (a proxy must never see loopback traffic), and
    # quiet: httpx would log every poll at INFO.
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{root_url}/health", timeout=timeout) as r:
            status, body = r.status, r.read(4096)
    except urllib.error.HTTPError as e:
        status, body = e.code, b""
    except (OSError, http.client.HTTPException):
        return "down"
    if status == 200:
        try:
            return "ok" if json.loads(body).get("status") == "ok" else "other"
        except ValueError:
            return "other"
    if status == 503:  # llama.cpp while loading: {"error": {"message": "Loading model"}}
        return "loading"
    return "other"


class LocalLLMServer:
    """A llama.cpp server for one GGUF model, in a child process.

    ``port=0`` picks a free port at ``start()``.  ``cache_ram_mib`` caps
    llama.cpp's host-RAM prompt cache (its default is 8 GiB).
    """

    def __init__(
        self,
        model_path: Path | str,
        host: str = "127.0.0.1",
        port: int = 8081,
        threads: int = 2,
        ctx: int = 4096,
        *,
        parallel: int = 1,
        threads_batch: int | None = None,
        cache_ram_mib: int = 1024,
        poll: int | None = None,
        log_path: Path | str | None = None,
        die_with_parent: bool = True,
        extra_args: Sequence[str] = (),
    ) -> None:
        if not _is_loopback(host):
            raise ValueError(f"refusing to bind the LLM server to non-loopback host {host!r}")
        self.model_path = Path(model_path)
        self.host = host
        self.port = int(port)
        self.threads = int(threads)
        self.ctx = int(ctx)
        self.parallel = int(parallel)
        self.threads_batch = int(threads_batch) if threads_batch else self.threads
        self.cache_ram_mib = int(cache_ram_mib)
        self.poll = poll
        self.die_with_parent = die_with_parent
        self.extra_args = list(extra_args)
        self._log_path = Path(log_path) if log_path else None
        self._log_file: Any = None
        self._proc: subprocess.Popen[bytes] | None = None

    # --- properties ---
    @property
    def root_url(self) -> str:
        return f"http://{_url_host(self.host)}:{self.port}"

    @property
    def base_url(self) -> str:
        """OpenAI-compatible base URL (``…/v1``)."""
        return f"{self.root_url}/v1"

    @property
    def model_id(self) -> str:
        """Name the server lists under /v1/models (any name is accepted in requests)."""
        return self.model_path.stem

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def log_path(self) -> Path | None:
        return self._log_path

    def is_running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    # --- lifecycle ---
    def command(self) -> list[str]:
        cmd = [
            sys.executable, "-m", "rag.llm_runtime.server",
            "--model", str(self.model_path),
            "--host", self.host, "--port", str(self.port),
            "--threads", str(self.threads), "--threads-batch", str(self.threads_batch),
            "--ctx", str(self.ctx),
            "--parallel", str(self.parallel), "--cache-ram-mib", str(self.cache_ram_mib),
            "--alias", self.model_id,
        ]  # fmt: skip
        if self.poll is not None:
            cmd += ["--poll", str(self.poll)]
        if self.die_with_parent:
            cmd += ["--parent-pid", str(os.getpid())]
        return cmd + self.extra_args

    def start(self, timeout: float = DEFAULT_START_TIMEOUT_S) -> LocalLLMServer:
        """Spawn the server process and wait until ``/health`` answers ok."""
        if self.is_running():
            return self
        if not self.model_path.is_file():
            raise FileNotFoundError(f"GGUF model not found: {self.model_path}")
        if self.port == 0:
            self.port = _free_port(self.host)
        elif probe(self.root_url) != "down":
            raise LLMServerError(f"something already answers on {self.root_url}")
        if self._log_path is None:
            self._log_path = Path(tempfile.gettempdir()) / f"rag-llm-server-{self.port}.log"
        self._log_path.parent.mkdir(parents=True, exist_ok=True)
        self._log_file = open(self._log_path, "wb")  # noqa: SIM115 (closed in stop())
        env = dict(os.environ)
        # The child must import this package even when the caller's cwd is elsewhere.
        pkg_root = str(Path(__file__).resolve().parents[2])
        env["PYTHONPATH"] = os.pathsep.join(p for p in (pkg_root, env.get("PYTHONPATH")) if p)
        log.info("Starting LLM server: %s (log: %s)", self.model_path.name, self._log_path)
        self._proc = subprocess.Popen(
            self.command(),
            stdin=subprocess.DEVNULL,
            stdout=self._log_file,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,  # a Ctrl-C in the parent's terminal doesn't hit it twice
        )
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def wait_ready(self, timeout: float = DEFAULT_START_TIMEOUT_S) -> None:
        """Block until ``/health`` says ok; raise LLMServerError on exit or timeout."""
        t0 = time.monotonic()
        deadline = t0 + timeout
        while True:
            if self._proc is not None and self._proc.poll() is not None:
                raise LLMServerError(
                    f"LLM server exited with code {self._proc.returncode} before it was "
                    f"ready; log tail:\n{self.log_tail()}"
                )
            state = probe(self.root_url, timeout=2.0)
            if state == "ok":
                log.info("LLM server ready at %s after %.1fs", self.base_url,
                         time.monotonic() - t0)
                return
            if state == "other":
                raise LLMServerError(f"{self.root_url} answers but is not a llama.cpp server")
            if time.monotonic() >= deadline:
                raise LLMServerError(
                    f"LLM server at {self.root_url} not ready after {timeout:.0f}s; "
                    f"log tail:\n{self.log_tail()}"
                )
            time.sleep(0.2)

    def stop(self, timeout: float = 10.0) -> None:
        """Terminate the server (SIGTERM, then SIGKILL after ``timeout``)."""
        proc, self._proc = self._proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
            log.info("LLM server on port %d stopped", self.port)
        if self._log_file is not None:
            with contextlib.suppress(OSError):
                self._log_file.close()
            self._log_file = None

    def kill(self) -> None:
        """SIGKILL the server at once (simulates a crash); keeps the object reusable."""
        if self._proc is not None and self._proc.poll() is None:
            self._proc.kill()
            self._proc.wait(5)
        self.stop()

    def log_tail(self, n_bytes: int = 4000) -> str:
        if self._log_path is None or not self._log_path.exists():
            return "(no log)"
        with open(self._log_path, "rb") as f:
            f.seek(max(0, self._log_path.stat().st_size - n_bytes))
            return f.read().decode("utf-8", errors="replace")

    def __enter__(self) -> LocalLLMServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.is_running() else "stopped"
        return f"LocalLLMServer({self.model_path.name!r}, {self.root_url}, {state})"


# --- reuse-or-start helper -----------------------------------------------------------

_managed: dict[tuple[str, int], LocalLLMServer] = {}
_managed_lock = threading.Lock()


def _stop_managed() -> None:
    for srv in list(_managed.values()):
        with contextlib.suppress(Exception):
            srv.stop()
    _managed.clear()


atexit.register(_stop_managed)


def ensure_local_server(
    settings: Settings | None = None, timeout: float = DEFAULT_START_TIMEOUT_S
) -> str:
    """Base URL (``http://host:port/v1``) of a ready local LLM server.

    Reuses whatever llama.cpp server already answers on
    ``settings.llm_host:llm_port``; otherwise starts one for
    ``settings.llm_model_path`` (assembling the GGUF first if it is one of
    the known models and missing) and keeps it until this process exits.
    """
    if settings is None:
        from rag.config import get_settings

        settings = get_settings()
    host, port = settings.llm_host, settings.llm_port
    root = f"http://{_url_host(host)}:{port}"

    with _managed_lock:
        srv = _managed.get((host, port))
        state = probe(root)
        if state == "loading":
            _wait_for(root, timeout)
            state = "ok"
        if state == "ok":
            _warn_if_other_model(root, Path(settings.llm_model_path))
            return f"{root}/v1"
        if state == "other":
            raise LLMServerError(f"{root} answers but is not a llama.cpp server")
        if srv is not None:  # ours, but dead: replace it
            log.warning("Managed LLM server on %s is gone; restarting it", root)
            srv.stop()

        model = Path(settings.llm_model_path)
        if not model.is_file():
            from rag.models.llm_assemble import assemble, spec_for_filename

            spec = spec_for_filename(model.name)
            if spec is None:
                raise FileNotFoundError(f"GGUF model not found: {model}")
            assemble(spec.variant, model.parent)  # type: ignore[arg-type]

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


def _warn_if_other_model(root: str, model: Path) -> None:
    """Log a warning when the running server serves another GGUF than configured."""
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(f"{root}/v1/models", timeout=2.0) as r:
            data = json.loads(r.read())
        ids = [str(m.get("id", "")) for m in data.get("data", [])]
    except (OSError, ValueError, http.client.HTTPException):
        return
    if ids and not any(model.stem in i or model.name in i for i in ids):
        log.warning("Reusing the LLM server on %s, which serves %s, not %s", root, ids,
                    model.name)


def _wait_for(root: str, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while probe(root, timeout=2.0) != "ok":
        if time.monotonic() >= deadline:
            raise LLMServerError(f"LLM server at {root} not ready after {timeout:.0f}s")
        time.sleep(0.5)


# --- the server process ----------------------------------------------------------------


def serve(
    model: Path,
    host: str = "127.0.0.1",
    port: int = 8081,
    threads: int = 2,
    ctx: int = 4096,
    *,
    parallel: int = 1,
    threads_batch: int | None = None,
    cache_ram_mib: int = 1024,
    alias: str = "",
    poll: int | None = None,
    parent_pid: int | None = None,
    verbosity: int = 3,
) -> None:
    """Run llama.cpp's server in this process until SIGTERM/SIGINT (or the parent dies)."""
    if not _is_loopback(host):
        raise SystemExit(f"refusing to bind to non-loopback host {host!r}")
    import xllamacpp as xlc

    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())

    params = xlc.CommonParams()
    params.model.path = str(model)
    if alias:
        params.model_alias = {alias}
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
    params.cors_origins = f"http://{_url_host(host)}"
    params.cors_origins_explicit = True
    params.ui = False
    params.verbosity = verbosity

    t0 = time.monotonic()
    server = xlc.Server(params)  # returns once the model is loaded and HTTP is listening
    log.info("llama.cpp server for %s listening on %s (load %.1fs, pid %d)", model.name,
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


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m rag.llm_runtime.server",
                                 description="Serve a GGUF model over an OpenAI-compatible API")
    ap.add_argument("--model", type=Path, default=None,
                    help="GGUF file (default: settings.llm_model_path)")
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int, default=None, help="default: settings.llm_port")
    ap.add_argument("--threads", type=int, default=None, help="default: settings.llm_threads")
    ap.add_argument("--ctx", type=int, default=None, help="default: settings.llm_context")
    ap.add_argument("--threads-batch", type=int, default=None,
                    help="threads for prompt evaluation (default: --threads)")
    ap.add_argument("--parallel", type=int, default=1)
    ap.add_argument("--cache-ram-mib", type=int, default=1024)
    ap.add_argument("--alias", default="")
    ap.add_argument("--poll", type=int, default=None, help="thread polling level 0-100")
    ap.add_argument("--parent-pid", type=int, default=None,
                    help="exit when this process is no longer our parent")
    ap.add_argument("--verbosity", type=int, default=3)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    if args.model is None or args.port is None or args.threads is None or args.ctx is None:
        from rag.config import get_settings

        s = get_settings()
        args.model = args.model or s.llm_model_path
        args.port = s.llm_port if args.port is None else args.port
        args.threads = args.threads or s.llm_threads
        args.ctx = args.ctx or s.llm_context
    if not args.model.is_file():
        ap.error(f"model not found: {args.model}")
    serve(args.model, args.host, args.port, args.threads, args.ctx, parallel=args.parallel,
          threads_batch=args.threads_batch,
          cache_ram_mib=args.cache_ram_mib, alias=args.alias or args.model.stem, poll=args.poll,
          parent_pid=args.parent_pid, verbosity=args.verbosity)
    return 0


if __name__ == "__main__":
    sys.exit(main())
