"""Start, wait for, probe and stop one llama.cpp server (xllamacpp) in a child process.

The server runs in its own process (``python -m rag.llm_runtime.child``), so a crash
in llama.cpp cannot take the application down, and tests can kill it to simulate a
dead endpoint.  It binds to a loopback address only.  The process-wide servers the
answer modes share live in ``rag.llm_runtime.registry``.

Typical use::

    with LocalLLMServer(model_path, port=8081) as srv:      # start() + stop()
        client = openai.OpenAI(base_url=srv.base_url, api_key="not-needed")

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
* Prompt caching is on (see ``rag.llm_runtime.child``); a request can opt out
  with ``"cache_prompt": false`` (``extra_body`` in the openai client).
* On a busy 2-core machine ``threads=2`` can be several times slower than
  ``threads=1`` for generation: llama.cpp's worker threads wait on each
  other at every step, and a descheduled thread stalls the other one
  (see bench/llm_speed.py).
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from rag.errors import LLMUnavailableError
from rag.llm_runtime.net import free_port, is_loopback, probe, root_url

log = logging.getLogger(__name__)

DEFAULT_START_TIMEOUT_S = 180.0


class LLMServerError(LLMUnavailableError):
    """The local LLM server could not be started or did not become ready.

    An ``LLMUnavailableError``: the service answers extractively instead.  ``reason``
    (shown in the notice) is this class's name, or the name of the error that kept
    the server from starting.
    """

    def __init__(self, message: str, reason: str | None = None):
        super().__init__(message, reason or type(self).__name__)


def wait_until_ready(
    root: str,
    timeout: float = DEFAULT_START_TIMEOUT_S,
    *,
    check: Callable[[], None] | None = None,
    detail: Callable[[], str] | None = None,
    poll_s: float = 0.2,
) -> None:
    """Block until ``/health`` at ``root`` says ok.

    ``check`` runs before every poll and may raise (the child process died);
    ``detail`` adds e.g. the log tail to the timeout message.  Raises
    ``LLMServerError`` when something other than llama.cpp answers, or at timeout.
    """
    t0 = time.monotonic()
    while True:
        if check is not None:
            check()
        state = probe(root, timeout=2.0)
        if state == "ok":
            log.info("LLM server ready at %s after %.1fs", root, time.monotonic() - t0)
            return
        if state == "other":
            raise LLMServerError(f"该地址上的服务不是 llama.cpp（{root} answers but is not a llama.cpp server）")
        if time.monotonic() - t0 >= timeout:
            message = f"本地大模型服务未能就绪（LLM server at {root} not ready after {timeout:.0f}s）"
            raise LLMServerError(f"{message}; log tail:\n{detail()}" if detail else message)
        time.sleep(poll_s)


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
        if not is_loopback(host):
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
        return root_url(self.host, self.port)

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
            sys.executable, "-m", "rag.llm_runtime.child",
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
            self.port = free_port(self.host)
        elif probe(self.root_url) != "down":
            raise LLMServerError(f"端口已被占用（something already answers on {self.root_url}）")
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

        def still_running() -> None:
            if self._proc is not None and self._proc.poll() is not None:
                raise LLMServerError(
                    f"本地大模型服务启动失败（LLM server exited with code "
                    f"{self._proc.returncode} before it was ready）; log tail:\n{self.log_tail()}"
                )

        wait_until_ready(self.root_url, timeout, check=still_running, detail=self.log_tail)

    def wait_exit(self) -> int | None:
        """Block until the child exits and reap it; its exit code (-9 after SIGKILL), None if none runs."""
        proc = self._proc
        if proc is None:
            return None
        return proc.wait()

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
