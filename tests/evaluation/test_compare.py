"""Comparing two run folders."""

from __future__ import annotations

import json
from pathlib import Path

from rag.evaluation.compare import changed_questions, compare_runs

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


def test_compare_of_a_tune_and_a_test_run_names_the_gap(runs: tuple[Path, Path]) -> None:
    for run, split in zip(runs, ("tune", "test"), strict=True):
        metrics = json.loads((run / "metrics.json").read_text(encoding="utf-8"))
        metrics["run"]["config"]["split"] = split
        (run / "metrics.json").write_text(json.dumps(metrics), encoding="utf-8")
    md = compare_runs(*runs)
    assert "A: local tune" in md and "B: extractive test" in md
    assert "A ran the `tune` split and B the `test` split: Δ is the tune/test gap" in md
    assert "| citation support (checker rule) |" in md
