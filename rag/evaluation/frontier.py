"""The context-size frontier: key facts against what a longer context costs in waiting.

Each local-mode run (``rag eval run ... --mode local``) records the context size it was
run with (``run.config.context_chars``, RAG_LLM_CONTEXT_CHARS). :func:`frontier_points`
reads several such run folders into one point each, :func:`frontier_table` prints them,
and :func:`rag.evaluation.charts.plot_frontier` draws them, so the default context size
is chosen on measured points (issue 12 §4), not guessed.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["FrontierError", "FrontierPoint", "frontier_points", "frontier_table"]


class FrontierError(ValueError):
    """A run folder that cannot be a point of the frontier."""


@dataclass(frozen=True)
class FrontierPoint:
    run: str
    context_chars: int
    questions: int
    key_facts: float
    refusal: float | None
    false_refusal: float | None
    ttft_p50_s: float | None
    total_p50_s: float | None


def _seconds(latency: dict[str, Any], key: str) -> float | None:
    p50 = (latency.get(key) or {}).get("p50")
    return None if p50 is None else p50 / 1000.0


def read_point(run_dir: Path) -> FrontierPoint:
    path = Path(run_dir) / "metrics.json"
    try:
        metrics = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise FrontierError(f"{path}: not a finished run ({exc})") from exc
    config = (metrics.get("run") or {}).get("config") or {}
    chars = config.get("context_chars")
    if not isinstance(chars, int):
        raise FrontierError(f"{run_dir}: the run records no context size (a {config.get('mode', '?')} run?)")
    overall = metrics.get("overall") or {}
    if overall.get("key_fact_accuracy") is None:
        raise FrontierError(f"{run_dir}: no key-fact accuracy in metrics.json")
    latency = metrics.get("latency") or {}
    return FrontierPoint(
        run=Path(run_dir).name,
        context_chars=chars,
        questions=int(metrics.get("n_questions") or 0),
        key_facts=float(overall["key_fact_accuracy"]),
        refusal=overall.get("refusal_rate"),
        false_refusal=overall.get("false_refusal_rate"),
        ttft_p50_s=_seconds(latency, "ttft_ms"),
        total_p50_s=_seconds(latency, "total_ms"),
    )


def frontier_points(run_dirs: Sequence[Path]) -> list[FrontierPoint]:
    """One point per run, by context size; runs of different question sets are refused
    (their key facts would not be comparable)."""
    points = sorted((read_point(d) for d in run_dirs), key=lambda p: p.context_chars)
    if len({p.questions for p in points}) > 1:
        sizes = ", ".join(f"{p.run}: {p.questions}" for p in points)
        raise FrontierError(f"the runs answered different numbers of questions ({sizes})")
    return points


def _fmt(value: float | None, spec: str) -> str:
    return "–" if value is None else format(value, spec)


def frontier_table(points: Sequence[FrontierPoint]) -> str:
    lines = [
        "| context chars | key facts | refusal | false refusal | TTFT p50 | whole answer p50 | run |",
        "|---|---|---|---|---|---|---|",
    ]
    for p in points:
        lines.append(
            f"| {p.context_chars} | {p.key_facts:.3f} | {_fmt(p.refusal, '.3f')} | {_fmt(p.false_refusal, '.3f')} "
            f"| {_fmt(p.ttft_p50_s, '.1f')} s | {_fmt(p.total_p50_s, '.1f')} s | {p.run} |"
        )
    return "\n".join(lines)
