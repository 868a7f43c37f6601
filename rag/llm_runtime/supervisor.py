"""Keeps the local LLM server alive: notice when its process dies, reap it, restart it with back-off.

The answer modes hold a generator bound to one base URL for the life of the process
(``RagService`` caches it per mode), so a dead server must come back *on the same port*:
then the cached generator works again by itself and no caller has to notice. Meanwhile
questions fall back to extractive answers (the connection is refused at once).

* a child this process started is watched by a thread blocked in ``waitpid`` (through
  ``Popen.wait``): its death is seen at once and the process is reaped there, so no
  ``<defunct>`` entry stays behind;
* a server another process started (``ensure_local_server`` reuses it) is not our child:
  it is probed every ``poll_s`` and, after ``down_probes`` failed probes in a row,
  replaced by one of our own on the same port;
* restarts wait ``Backoff.delay(attempt)`` (1, 2, 4 … s, at most ``max_s``); a server that
  stays up ``stable_s`` resets the count, one that keeps dying gives up after
  ``max_attempts`` consecutive failures (state ``failed``) instead of burning the CPU.

``status()`` is what ``/healthz`` reports.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any, Literal

from rag.llm_runtime.net import probe
from rag.llm_runtime.server import DEFAULT_START_TIMEOUT_S, LLMServerError, LocalLLMServer

log = logging.getLogger(__name__)

State = Literal["starting", "running", "external", "restarting", "failed", "stopped"]


@dataclass(frozen=True)
class Backoff:
    """How restarts are spaced and when to give up."""

    initial_s: float = 1.0
    factor: float = 2.0
    max_s: float = 30.0
    max_attempts: int = 5  # consecutive failed or short-lived restarts before "failed"
    stable_s: float = 60.0  # a server up this long counts as recovered

    def delay(self, attempt: int) -> float:
        """Seconds to wait before restart number ``attempt`` (0-based)."""
        return min(self.max_s, self.initial_s * self.factor ** max(0, attempt))


@dataclass(frozen=True)
class LLMStatus:
    """The local LLM server as /healthz reports it."""

    state: State
    url: str
    restarts: int = 0  # successful restarts since this process first had the server
    pid: int | None = None  # of our child (None for a server another process runs)
    last_exit: int | None = None  # exit code of the last death (-9: SIGKILL)
    error: str | None = None  # why the last restart failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class SupervisedServer:
    """A ``LocalLLMServer`` (ours) or the address of someone else's, kept alive by a watcher thread."""

    def __init__(
        self,
        server: LocalLLMServer,
        *,
        backoff: Backoff | None = None,
        start_timeout: float = DEFAULT_START_TIMEOUT_S,
        poll_s: float = 2.0,
        down_probes: int = 2,
        sleep: Callable[[float], bool] | None = None,
    ):
        self.server = server
        self.backoff = backoff or Backoff()
        self.start_timeout = start_timeout
        self.poll_s = poll_s
        self.down_probes = down_probes
        self._stop = threading.Event()
        # Waits that a stop() cuts short; tests may replace it.
        self._sleep = sleep or self._stop.wait
        self._lock = threading.Lock()
        self._state: State = "starting"
        self._restarts = 0
        self._last_exit: int | None = None
        self._error: str | None = None
        self._attempt = 0
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------ lifecycle
    @property
    def root_url(self) -> str:
        return self.server.root_url

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def start(self) -> SupervisedServer:
        """Start our own server (raises ``LLMServerError`` when it cannot), then watch it."""
        self.server.start(self.start_timeout)
        self._set("running")
        self._watch()
        return self

    def adopt(self) -> SupervisedServer:
        """Watch a server another process runs on ``server``'s address; replace it if it dies."""
        self._set("external")
        self._watch()
        return self

    def stop(self) -> None:
        """Stop watching, then stop our child (if any)."""
        self._stop.set()
        self.server.stop()
        self._set("stopped")
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    def status(self) -> LLMStatus:
        with self._lock:
            return LLMStatus(
                state=self._state,
                url=self.base_url,
                restarts=self._restarts,
                pid=self.server.pid if self.server.is_running() else None,
                last_exit=self._last_exit,
                error=self._error,
            )

    def _set(self, state: State, **fields: Any) -> None:
        with self._lock:
            self._state = state
            for name, value in fields.items():
                setattr(self, f"_{name}", value)

    def _watch(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name=f"llm-supervisor-{self.server.port}", daemon=True)
            self._thread.start()

    # ------------------------------------------------------------ the watcher thread
    def _run(self) -> None:
        while not self._stop.is_set():
            up_since = time.monotonic()
            if self.server.is_running():
                code = self.server.wait_exit()  # blocks; reaps the child
                if self._stop.is_set():
                    return
                log.warning("本地大模型服务进程已退出 (LLM server pid exited with code %s); restarting", code)
                self._set("restarting", last_exit=code)
            elif not self._wait_external_down():
                return
            if time.monotonic() - up_since >= self.backoff.stable_s:
                self._attempt = 0
            if not self._recover():
                return

    def _wait_external_down(self) -> bool:
        """Block while the other process's server answers; False when stopped."""
        misses = 0
        while not self._stop.is_set():
            if self._sleep(self.poll_s):
                return False
            misses = misses + 1 if probe(self.root_url) == "down" else 0
            if misses >= self.down_probes:
                log.warning("LLM server on %s (another process's) is gone; starting our own", self.root_url)
                self._set("restarting")
                return True
        return False

    def _recover(self) -> bool:
        """Restart with back-off; True once a server answers again, False when given up or stopped."""
        while self._attempt < self.backoff.max_attempts:
            delay = self.backoff.delay(self._attempt)
            self._attempt += 1
            if self._sleep(delay):
                return False
            if probe(self.root_url) == "ok":  # another process was quicker: use its server
                self._set("external", error=None)
                return True
            try:
                self.server.start(self.start_timeout)
            except (LLMServerError, OSError) as exc:
                log.warning("restarting the LLM server failed (attempt %d/%d): %s",
                            self._attempt, self.backoff.max_attempts, str(exc).splitlines()[0])
                self._set("restarting", error=str(exc).splitlines()[0][:300])
                continue
            if self._stop.is_set():  # stop() came while the server was starting
                self.server.stop()
                return False
            with self._lock:
                self._restarts += 1
            self._set("running", error=None)
            log.info("LLM server restarted on %s (pid %s, restart %d)", self.root_url, self.server.pid, self._restarts)
            return True
        log.error("本地大模型服务多次重启失败，已放弃 (LLM server gave up after %d attempts)", self._attempt)
        self._set("failed")
        return False

    def __repr__(self) -> str:
        return f"SupervisedServer({self.server!r}, {self.status().state})"
