"""``rag eval``: the sub-commands, the default ``run``, the legacy ``--retrieval`` flag."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evaluation.importers.samples import write_crud, write_rgb
from typer.testing import CliRunner

from rag.cli import app
from rag.config import PROJECT_ROOT

DEV_SET = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"


def invoke(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["eval", *args])
    return result.exit_code, result.output


def test_help_lists_the_commands() -> None:
    code, output = invoke("--help")
    assert code == 0
    for command in ("run", "retrieval", "compare", "import"):
        assert command in output


@pytest.mark.parametrize(
    "args",
    [("run", "nosuch.jsonl"), ("nosuch.jsonl",), ("nosuch.jsonl", "--mode", "extractive"), ("--retrieval", "nosuch.jsonl")],
)
def test_a_missing_dataset_is_a_usage_error(args: tuple[str, ...]) -> None:
    code, output = invoke(*args)
    assert code == 2 and "no such dataset: nosuch.jsonl" in output


@pytest.mark.parametrize("command", ["run", "retrieval"])
def test_several_datasets_and_a_split_are_checked_before_the_index_loads(command: str) -> None:
    code, output = invoke(command, str(DEV_SET), "nosuch.jsonl", "--split", "test")
    assert code == 2 and "no such dataset: nosuch.jsonl" in output
    code, output = invoke(command, str(DEV_SET), "--split", "dev")
    assert code == 2 and "--split must be one of tune, test" in output


def test_compare_writes_a_chart(runs: tuple[Path, Path], tmp_path: Path) -> None:
    chart = tmp_path / "modes.png"
    code, output = invoke("compare", str(runs[0]), str(runs[1]), "--chart", str(chart))
    assert code == 0, output
    assert "key_fact_accuracy" in output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000


def test_import_commands(tmp_path: Path) -> None:
    code, output = invoke("import", "crud", str(write_crud(tmp_path)), str(tmp_path / "c"))
    assert code == 0, output
    assert json.loads(output)["questions"] == 3
    code, output = invoke("import", "rgb", str(write_rgb(tmp_path)), str(tmp_path / "r"), "--limit", "2")
    assert code == 0, output
    assert json.loads(output)["questions"] == 2
    assert len((tmp_path / "r" / "dataset.jsonl").read_text(encoding="utf-8").splitlines()) == 2


@pytest.mark.slow
def test_legacy_retrieval_flag_runs_the_benchmark(index_dir: Path, tmp_path: Path) -> None:
    code, output = invoke("--retrieval", str(DEV_SET), "--limit", "2", "--index", str(index_dir), "--out", str(tmp_path))
    assert code == 0, output
    table = json.loads((tmp_path / "retrieval.json").read_text(encoding="utf-8"))
    assert set(table) == {"bm25", "dense", "hybrid"} and table["hybrid"]["questions"] == 2


@pytest.mark.slow
def test_dataset_without_command_is_a_run(index_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    code, output = invoke(str(DEV_SET), "--mode", "extractive", "--limit", "2", "--index", str(index_dir), "--out", str(out))
    assert code == 0, output
    metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert metrics["n_questions"] == 2 and metrics["run"]["config"]["mode"] == "extractive"
    assert (out / "report.html").exists()
