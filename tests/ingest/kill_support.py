"""Killing a real ingest mid-way: start it as a child process, wait until it has reached
the wanted point, SIGKILL it, and leave the rest (is the previous index still live?
does a restart resume?) to the test."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def kill_when(
    command: list[str], log: Path, reached: Callable[[], T | None], *, timeout: float, poll: float,
    cwd: Path, env: dict[str, str], while_running: Callable[[], None] = lambda: None,
) -> T:
    """Run ``command`` (stdout and stderr to ``log``), SIGKILL it as soon as ``reached()``
    returns something, and return that. ``while_running`` is checked on every poll.
    Fails when the child ends first or the point is not reached within ``timeout``."""
    with open(log, "wb") as out:
        proc = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, cwd=cwd, env=env)
        try:
            deadline = time.monotonic() + timeout
            found = None
            while time.monotonic() < deadline and proc.poll() is None:
                while_running()
                found = reached()
                if found:
                    break
                time.sleep(poll)
            assert proc.poll() is None, "the ingest ended before it could be killed:\n" + log.read_text()
            assert found, "the ingest never reached the point to kill it at:\n" + log.read_text()
            os.kill(proc.pid, signal.SIGKILL)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    return found
