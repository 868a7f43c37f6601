"""The child process's command line: whatever the parent spawns must parse."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import rag
from rag.llm_runtime.server import LocalLLMServer


def test_the_parent_spawns_the_child_module(tmp_path: Path) -> None:
    cmd = LocalLLMServer(tmp_path / "m.gguf", port=8099, threads=1, threads_batch=2, poll=0).command()
    assert cmd[:3] == [sys.executable, "-m", "rag.llm_runtime.child"]
    for flag in ("--model", "--port", "--threads", "--threads-batch", "--ctx", "--parallel",
                 "--cache-ram-mib", "--alias", "--poll", "--parent-pid"):
        assert flag in cmd


def test_every_flag_the_parent_passes_is_accepted(tmp_path: Path) -> None:
    """All flags parse; the child then stops at the missing model, before loading anything."""
    cmd = LocalLLMServer(tmp_path / "missing.gguf", port=8099, threads=1, poll=0).command()
    # Wide columns: typer wraps its error box at the terminal width.
    env = dict(os.environ, COLUMNS="1000", PYTHONPATH=str(Path(rag.__file__).parents[1]))
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=60, env=env)
    assert done.returncode == 2, done.stderr
    assert "model not found" in done.stderr
    assert "No such option" not in done.stderr
