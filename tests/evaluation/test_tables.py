"""How metrics read in tables: cell formatting, the flat list, run labels."""

from __future__ import annotations

from pathlib import Path

from rag.evaluation.tables import citations_cell, evidence_cell, flat_metrics, fmt, is_rate, metric_label, pass_cell, run_label


def test_fmt() -> None:
    assert fmt(None) == "–"
    assert fmt(0.1234) == "12.3%"
    assert fmt(1234.5, pct=False) == "1,234.5"
    assert fmt(True) == "yes"
    assert fmt(3) == "3"


def test_flat_metrics() -> None:
    metrics = {
        "overall": {"n": 3, "recall@1": 0.5},
        "latency": {"total_ms": {"p50": 10.0, "p95": 20.0, "mean": 12.0, "n": 3}},
        "tokens": {"mean": 30.0, "tokens_per_s": 15.0},
    }
    assert flat_metrics(metrics) == {
        "recall@1": 0.5,
        "total_ms.p50": 10.0,
        "total_ms.p95": 20.0,
        "tokens_generated.mean": 30.0,
        "tokens_per_s": 15.0,
    }
    assert is_rate("recall@1") and not is_rate("total_ms.p50")


def test_run_label() -> None:
    assert run_label(Path("runs/x"), {"run": {"config": {"mode": "local", "k": 5}}}) == "local k=5"
    assert run_label(Path("runs/x"), {"run": {"config": {"mode": "local"}}}) == "local"
    assert run_label(Path("runs/x"), {}) == "x"
    assert run_label(Path("runs/x"), {"run": {"config": {"mode": "local", "k": 5, "split": "test"}}}) == "local k=5 test"


def test_metric_labels_keep_the_checker_rule_apart() -> None:
    assert metric_label("citation_precision") == "citation support (checker rule)"
    assert metric_label("evidence_citation_precision") == "evidence_citation_precision"


def test_cells() -> None:
    assert citations_cell({"citations": [{"n": 1, "file": "a.txt"}, {"n": 2, "file": None}]}) == "[1] a.txt; [2]"
    assert [pass_cell(p) for p in (True, False, None)] == ["PASS", "FAIL", "–"]
    assert evidence_cell({"evidence_citations": 1, "evidence_citations_total": 2}) == "1/2"
    assert evidence_cell({"evidence_citations": 0, "evidence_citations_total": 0}) == "–"
