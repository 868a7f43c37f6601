"""Supervising the local LLM server: a dead child is reaped and restarted with back-off (issue 13, defect 2).

The unit tests supervise a stand-in child (a sleeping Python process) so death,
reaping and back-off are real without a model; the `llm` tests kill -9 the real 0.5B
llama.cpp server and ask the service again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.config import Settings
from rag.llm_runtime.net import free_port, probe, root_url
from rag.llm_runtime.registry import local_server_status, stop_managed
from rag.llm_runtime.server import LLMServerError
from rag.llm_runtime.supervisor import Backoff, SupervisedServer

FAST = Backoff(initial_s=0.01, factor=2.0, max_s=0.05, max_attempts=3, stable_s=60.0)


class StandInServer:
    """A child process that sleeps; ``fail_starts`` next starts raise like a model that will not load."""

    def __init__(self, fail_starts: int = 0):
        self.port = free_port()
        self.root_url = root_url("127.0.0.1", self.port)
        self.base_url = f"{self.root_url}/v1"
        self.fail_starts = fail_starts
        self.starts = 0
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc else None

    def start(self, timeout: float = 0) -> None:
        self.starts += 1
        if self.fail_starts > 0:
            self.fail_starts -= 1
            raise LLMServerError("本地大模型服务启动失败（stand-in）")
        self.proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])

    def is_running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def wait_exit(self) -> int | None:
        return self.proc.wait() if self.proc else None

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            proc.wait(5)


def _until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def _zombie_or_alive(pid: int) -> str | None:
    """The process state letter of ``pid`` (Z = <defunct>), None when it is gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_backoff_grows_and_is_bounded() -> None:
    backoff = Backoff(initial_s=1, factor=2, max_s=30)
    assert [backoff.delay(n) for n in range(7)] == [1, 2, 4, 8, 16, 30, 30]


def test_a_killed_child_is_reaped_and_restarted() -> None:
    server = StandInServer()
    sup = SupervisedServer(server, backoff=FAST).start()  # type: ignore[arg-type]
    try:
        first = server.pid
        assert first and sup.status().state == "running"
        os.kill(first, signal.SIGKILL)
        _until(lambda: sup.status().restarts == 1 and sup.status().state == "running")
        status = sup.status()
        assert status.pid and status.pid != first
        assert status.last_exit == -signal.SIGKILL
        assert _zombie_or_alive(first) is None  # reaped: no <defunct> entry left
    finally:
        sup.stop()
    assert sup.status().state == "stopped" and not server.is_running()


def test_restarts_give_up_after_the_bounded_attempts() -> None:
    server = StandInServer()
    sup = SupervisedServer(server, backoff=FAST).start()  # type: ignore[arg-type]
    try:
        server.fail_starts = 10  # the model no longer loads
        os.kill(server.pid or 0, signal.SIGKILL)
        _until(lambda: sup.status().state == "failed")
        status = sup.status()
        assert server.starts == 1 + FAST.max_attempts  # the first start, then exactly the bounded retries
        assert status.restarts == 0 and "stand-in" in (status.error or "")
    finally:
        sup.stop()


def test_a_failed_start_is_retried_with_back_off() -> None:
    server = StandInServer()
    sup = SupervisedServer(server, backoff=FAST).start()  # type: ignore[arg-type]
    try:
        server.fail_starts = 2
        os.kill(server.pid or 0, signal.SIGKILL)
        _until(lambda: sup.status().state == "running" and sup.status().restarts == 1)
        assert server.starts == 4 and sup.status().error is None
    finally:
        sup.stop()


def test_stop_does_not_restart() -> None:
    server = StandInServer()
    sup = SupervisedServer(server, backoff=FAST).start()  # type: ignore[arg-type]
    pid = server.pid
    sup.stop()
    time.sleep(0.2)
    assert server.starts == 1 and sup.status().state == "stopped"
    assert pid is not None and _zombie_or_alive(pid) is None


# ------------------------------------------------------------------ the real 0.5B server


@pytest.mark.llm
def test_the_real_server_comes_back_after_kill_9(llm_settings: Settings, index_dir: Path) -> None:
    """kill -9 of the real 0.5B server: the next question falls back, the server is reaped and
    restarted on its port, and the service's cached local generator answers locally again."""
    from rag.service import RagService

    port = free_port()
    settings = llm_settings.model_copy(update={"llm_port": port, "llm_context": 2048, "llm_timeout_s": 180})
    service = RagService(settings, index_dir).warm_up()
    question = "黑石BXPE基金的管理费是多少？"
    try:
        assert service.ask(question, mode="local").mode == "local"  # starts our own server on `port`
        before = local_server_status(settings)
        assert before is not None and before.state == "running" and before.pid
        os.kill(before.pid, signal.SIGKILL)
        meanwhile = service.ask(question, mode="local")
        assert meanwhile.mode == "extractive" and meanwhile.notice  # answered all the same
        _until(lambda: (local_server_status(settings) or before).restarts == 1
               and (local_server_status(settings) or before).state == "running", timeout=180)
        after = local_server_status(settings)
        assert after is not None and after.pid != before.pid and after.last_exit == -signal.SIGKILL
        assert _zombie_or_alive(before.pid) is None  # reaped, not <defunct>
        assert probe(root_url("127.0.0.1", port)) == "ok"
        again = service.ask(question, mode="local")  # the same cached generator, the same URL
        assert again.mode == "local" and again.notice is None
    finally:
        stop_managed("127.0.0.1", port)
    assert probe(root_url("127.0.0.1", port)) == "down"
