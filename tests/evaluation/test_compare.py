"""Comparing two run folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING

from rag.evaluation import compare
from rag.evaluation.compare import changed_questions, compare_runs
from rag.evaluation.metrics import compute_metrics
from rag.evaluation.report import write_report

ITEMS = [
    {"id": "k1", "type": "factoid", "question": "黑石净流入多少？", "must_include": ["170亿美元"],
     "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
    {"id": "k2", "type": "factoid", "question": "会议在哪里举行？", "must_include": ["北京"]},
    {"id": "u1", "type": "unanswerable", "question": "火星？"},
]


def _write(tmp_path: Path, name: str, preds: list[dict[str, Any]], mode: str) -> Path:
    metrics = compute_metrics(ITEMS, preds)
    metrics["run"] = {"config": {"mode": mode}}
    write_report(tmp_path / name, ITEMS, preds, metrics)
    return tmp_path / name


@pytest.fixture
def runs(tmp_path: Path, make_pred: Any) -> tuple[Path, Path]:
    slow = {"retrieve_ms": 10, "generate_ms": 2000, "total_ms": 2010, "ttft_ms": 300}
    fast = {"retrieve_ms": 10, "generate_ms": 1000, "total_ms": 1010, "ttft_ms": 200}
    a = _write(tmp_path, "a", [
        make_pred("黑石净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_MEETING], timings=slow),
        make_pred("会议在上海举行。", timings=slow),
        make_pred("火星上有三座城市。", timings=slow),
    ], "local")
    b = _write(tmp_path, "b", [
        make_pred("黑石净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_BLACKSTONE], timings=fast),
        make_pred("会议在北京举行。", timings=fast),
        make_pred("资料中没有相关信息。", refused=True, timings=fast),
    ], "extractive")
    return a, b


def test_compare_table_and_deltas(runs: tuple[Path, Path]) -> None:
    md = compare_runs(*runs)
    assert "A: local" in md and "B: extractive" in md
    assert "| key_fact_accuracy | 50.0% | 100.0% | +50.0 pp ▲ |" in md
    assert "| recall@1 | 0.0% | 100.0% | +100.0 pp ▲ |" in md
    assert "| total_ms.p50 | 2,010.0 | 1,010.0 | -1,000.0 ▲ |" in md  # lower latency is better
    assert "judge_correctness" not in md  # absent in both runs


def test_compare_lists_changed_questions(runs: tuple[Path, Path]) -> None:
    md = compare_runs(*runs)
    assert "Questions whose outcome changed (2)" in md
    assert "| k2 | 会议在哪里举行？ | key facts missing, answered, FAIL | key facts ok, answered, PASS |" in md
    assert "| u1 | 火星？ | answered, FAIL | refused, PASS |" in md
    assert "| k1 |" not in md


def test_changed_questions_ignores_unchanged() -> None:
    row = {"key_fact": True, "refused": False, "passed": True}
    assert changed_questions({"a": row}, {"a": dict(row)}) == []
    assert [q for q, _, _ in changed_questions({"a": row}, {"a": dict(row, error="x")})] == ["a"]


def test_cli(runs: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    compare.main([str(runs[0]), str(runs[1]), "--chart", str(tmp_path / "cmp.png")])
    assert "key_fact_accuracy" in capsys.readouterr().out
    assert (tmp_path / "cmp.png").exists()


def test_rag_eval_compare_writes_a_chart(runs: tuple[Path, Path], tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from rag.cli import app

    chart = tmp_path / "modes.png"
    result = CliRunner().invoke(app, ["eval", "compare", str(runs[0]), str(runs[1]), "--chart", str(chart)])
    assert result.exit_code == 0, result.output
    assert "key_fact_accuracy" in result.output
    assert chart.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and chart.stat().st_size > 5000
