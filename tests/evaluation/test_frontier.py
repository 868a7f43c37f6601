"""The context-size frontier: points read from run folders, the table, the chart, the command."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evaluation.eval_samples import PNG_MAGIC
from typer.testing import CliRunner

from rag.cli import app
from rag.evaluation.charts import plot_frontier
from rag.evaluation.frontier import FrontierError, frontier_points, frontier_table


def write_local_run(root: Path, name: str, chars: int | None, key_facts: float, ttft_ms: float, n: int = 175) -> Path:
    folder = root / name
    folder.mkdir()
    config = {"mode": "local", "k": 5, "llm": "m.gguf"}
    if chars is not None:
        config["context_chars"] = chars
    metrics = {
        "n_questions": n,
        "overall": {"key_fact_accuracy": key_facts, "refusal_rate": 0.73, "false_refusal_rate": 0.1},
        "latency": {"ttft_ms": {"p50": ttft_ms}, "total_ms": {"p50": ttft_ms + 1200}},
        "run": {"config": config},
    }
    (folder / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    return folder


def test_points_come_sorted_by_context_size_with_seconds(tmp_path: Path) -> None:
    runs = [
        write_local_run(tmp_path, "c700", 700, 0.68, 5900.0),
        write_local_run(tmp_path, "c270", 270, 0.57, 3100.0),
        write_local_run(tmp_path, "c450", 450, 0.65, 4300.0),
    ]
    points = frontier_points(runs)
    assert [p.context_chars for p in points] == [270, 450, 700]
    assert points[0].ttft_p50_s == pytest.approx(3.1) and points[0].total_p50_s == pytest.approx(4.3)
    table = frontier_table(points)
    assert table.splitlines()[2].startswith("| 270 | 0.570 | 0.730 | 0.100 | 3.1 s | 4.3 s |")
    assert len(table.splitlines()) == 5


def test_a_run_without_a_context_size_or_of_other_questions_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FrontierError, match="no context size"):
        frontier_points([write_local_run(tmp_path, "old", None, 0.6, 3000.0)])
    with pytest.raises(FrontierError, match="different numbers of questions"):
        frontier_points([write_local_run(tmp_path, "a", 270, 0.6, 3000.0),
                         write_local_run(tmp_path, "b", 450, 0.6, 3000.0, n=40)])
    with pytest.raises(FrontierError, match="not a finished run"):
        frontier_points([tmp_path / "missing"])


def test_chart_and_command(tmp_path: Path) -> None:
    runs = [write_local_run(tmp_path, f"c{c}", c, k, t) for c, k, t in ((270, .57, 3100.), (450, .65, 4300.))]
    out = plot_frontier(frontier_points(runs), tmp_path / "f.png")
    assert out is not None and out.read_bytes().startswith(PNG_MAGIC)
    assert plot_frontier([], tmp_path / "none.png") is None

    chart = tmp_path / "cli.png"
    result = CliRunner().invoke(app, ["eval", "frontier", *map(str, runs), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert "0.650" in result.output and chart.read_bytes().startswith(PNG_MAGIC)
    bad = CliRunner().invoke(app, ["eval", "frontier", str(tmp_path / "missing")])
    assert bad.exit_code == 1 and "not a finished run" in " ".join(bad.output.split())  # rich wraps lines
