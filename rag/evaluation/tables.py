"""How a run's metrics read in a table: cell formatting, the flat metric list, run labels.

Shared by the report (:mod:`rag.evaluation.report`), the run comparison
(:mod:`rag.evaluation.compare`) and the charts, so a number looks the same in all three.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.evaluation.metrics import ANSWER_METRICS, QUALITY_METRICS

PER_TYPE_COLUMNS: tuple[str, ...] = ("recall@5", "mrr@10", "all_evidence_recall@5", *ANSWER_METRICS)
LATENCY_STATS: tuple[str, ...] = ("p50", "p95")
METRIC_LABELS: dict[str, str] = {
    # The checker's own rule cannot fall below 1.0 for answers it let through; the
    # label keeps it from being read as the independent evidence_citation_precision.
    "citation_precision": "citation support (checker rule)",
}
"""Metric names as reports show them (metrics.json keeps the keys)."""
GROUP_TABLES: tuple[tuple[str, str], ...] = (
    ("per_type", "{}"),
    ("per_near_miss", "unanswerable · {}"),
)
"""The rows of the per-type table: question types, then the near-miss kinds of the unanswerable ones."""


def metric_label(name: str) -> str:
    return METRIC_LABELS.get(name, name)


def fmt(value: Any, pct: bool = True) -> str:
    """A metric for a table cell: rates as percentages, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value * 100:.1f}%" if pct else f"{value:,.1f}"
    return str(value)


def is_rate(name: str) -> bool:
    """A metric shown as a percentage (the quality metrics), not a duration or count."""
    return name in QUALITY_METRICS


def flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Overall quality metrics, latency percentiles and token stats in one flat dict."""
    out: dict[str, float | None] = dict(metrics.get("overall", {}))
    out.pop("n", None)
    for key, stats in (metrics.get("latency") or {}).items():
        for stat in LATENCY_STATS:
            out[f"{key}.{stat}"] = stats.get(stat)
    tokens = metrics.get("tokens") or {}
    out["tokens_generated.mean"] = tokens.get("mean")
    out["tokens_per_s"] = tokens.get("tokens_per_s")
    return out


def group_rows(metrics: Mapping[str, Any], groups: tuple[tuple[str, str], ...] = GROUP_TABLES) -> list[tuple[str, Any, list[str]]]:
    """(label, n, cells of :data:`PER_TYPE_COLUMNS`) for every group of the given breakdowns."""
    return [
        (label.format(name), m.get("n"), [fmt(m.get(c)) for c in PER_TYPE_COLUMNS])
        for key, label in groups
        for name, m in (metrics.get(key) or {}).items()
    ]


def run_label(run_dir: Path, metrics: Mapping[str, Any]) -> str:
    """A run's name in charts: its config mode (and k, and split) if known, else the folder name."""
    run = metrics.get("run") or {}
    cfg = run.get("config") or {}
    mode = cfg.get("mode")
    if not mode:
        return run_dir.name
    label = f"{mode} k={cfg['k']}" if cfg.get("k") is not None else str(mode)
    split = cfg.get("split")
    return f"{label} {split}" if split else label


def citations_cell(row: Mapping[str, Any]) -> str:
    """A per-question row's citations as ``[n] file; [m] file``."""
    return "; ".join(f"[{c.get('n')}] {c.get('file') or ''}".strip() for c in row.get("citations") or [])


def evidence_cell(row: Mapping[str, Any]) -> str:
    """How many cited passages hold the item's evidence, as ``held/cited`` (– when not judged)."""
    total = row.get("evidence_citations_total") or 0
    return f"{row.get('evidence_citations') or 0}/{total}" if total else "–"


def pass_cell(passed: bool | None) -> str:
    return "–" if passed is None else ("PASS" if passed else "FAIL")
