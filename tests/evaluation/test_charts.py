"""The report's charts: PNGs written, nothing drawn without data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tests.evaluation.eval_samples import PNG_MAGIC, write_run

from rag.evaluation.charts import plot_latency, plot_metrics, plot_runs, write_runs_chart


def test_runs_chart(tmp_path: Path, make_pred: Any) -> None:
    a = write_run(tmp_path, make_pred, "a", "local")
    b = write_run(tmp_path, make_pred, "b", "extractive")
    c = write_run(tmp_path, make_pred, "c", "local")  # same label as a: disambiguated
    out = write_runs_chart([a, b, c], tmp_path / "runs.png")
    assert out is not None and out.read_bytes().startswith(PNG_MAGIC)
    assert plot_runs({}, tmp_path / "none.png") is None


def test_no_chart_without_data(tmp_path: Path) -> None:
    assert plot_metrics({"overall": {"recall@1": None}}, tmp_path / "m.png") is None
    assert plot_latency([{"error": "x"}, None], tmp_path / "l.png") is None
    assert not list(tmp_path.iterdir())
