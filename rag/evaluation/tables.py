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


def run_label(run_dir: Path, metrics: Mapping[str, Any]) -> str:
    """A run's name in charts: its config mode (and k) if known, else the folder name."""
    cfg = (metrics.get("run") or {}).get("config") or {}
    mode = cfg.get("mode")
    if mode:
        return f"{mode} k={cfg['k']}" if cfg.get("k") is not None else str(mode)
    return run_dir.name


def citations_cell(row: Mapping[str, Any]) -> str:
    """A per-question row's citations as ``[n] file; [m] file``."""
    return "; ".join(f"[{c.get('n')}] {c.get('file') or ''}".strip() for c in row.get("citations") or [])


def pass_cell(passed: bool | None) -> str:
    return "–" if passed is None else ("PASS" if passed else "FAIL")
