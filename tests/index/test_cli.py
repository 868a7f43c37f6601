"""`rag ask`/`rag search` on a damaged index, `rag index verify` and `rag index rollback`,
run as the real console script over versions written by rag.index.store."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.index import synthetic

RAG = Path(sys.executable).parent / "rag"


@pytest.fixture()
def env(tmp_path: Path) -> dict[str, str]:
    result = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    result.update(
        RAG_INDEX_DIR=str(tmp_path / "default-index"),  # must not be used: every call passes --index
        RAG_DATA_DIR=str(tmp_path / "data"),
        RAG_MODE="extractive",
        COLUMNS="1000",  # rich wraps at 80 columns when not on a terminal; one line must stay one line
        NO_COLOR="1",
    )
    return result


def run_rag(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(RAG), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=300)


@pytest.fixture()
def damaged(tmp_path: Path) -> tuple[Path, Path, Path]:
    """(index folder, the older sound version, the live version with 400 KB of random bytes in dense.faiss)."""
    index_dir = tmp_path / "index"
    older, *_ = synthetic.write(index_dir, n=3, seed=1, file="old.txt")
    live, *_ = synthetic.write(index_dir, n=5, seed=2, file="new.txt")
    synthetic.random_bytes(live / "dense.faiss")
    return index_dir, older, live


@pytest.mark.parametrize("command", [["search", "管理费"], ["ask", "管理费是多少？", "--mode", "extractive"]],
                         ids=["search", "ask"])
def test_a_damaged_index_is_one_line_and_a_failing_exit(damaged, env, tmp_path: Path, command: list[str]):
    index_dir, older, _ = damaged
    proc = run_rag([*command, "--index", str(index_dir)], env, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr and proc.stdout.strip() == ""
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("error: 索引已损坏：dense.faiss")
    assert f"rag index rollback --index {index_dir}" in lines[0] and older.name in lines[0]


def test_verify_names_the_damage_and_rollback_restores_the_older_version(damaged, env, tmp_path: Path):
    index_dir, older, live = damaged
    proc = run_rag(["index", "verify", "--index", str(index_dir)], env, tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert live.name in proc.stdout and older.name in proc.stdout and "完好" in proc.stdout
    assert "dense.faiss 与 manifest.json 记录的校验和不符" in proc.stdout
    assert proc.stderr.strip().startswith("error: 索引已损坏")

    proc = run_rag(["index", "rollback", "--index", str(index_dir)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"已回退到版本 {older.name}" in proc.stdout
    assert (index_dir / "CURRENT").read_text(encoding="utf-8") == older.name

    proc = run_rag(["index", "verify", "--index", str(index_dir)], env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert f"索引完好：当前版本 {older.name}，3 段" in proc.stdout

    proc = run_rag(["index", "rollback", "--index", str(index_dir)], env, tmp_path)  # nothing older is sound
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "没有可以回退的完整旧版本" in proc.stderr
    assert (index_dir / "CURRENT").read_text(encoding="utf-8") == older.name


def test_verify_and_rollback_without_an_index_say_so(env, tmp_path: Path):
    for command in (["verify"], ["rollback"]):
        proc = run_rag(["index", *command, "--index", str(tmp_path / "nothing")], env, tmp_path)
        assert proc.returncode == 1 and "Traceback" not in proc.stderr
        assert "还没有建立索引" in proc.stderr
