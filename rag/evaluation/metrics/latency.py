"""Cost and speed: latency percentiles per pipeline step, and generated tokens."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rag.evaluation.metrics.predictions import Pred, mean_or_none, number, usable

LATENCY_KEYS: tuple[str, ...] = ("retrieve_ms", "generate_ms", "total_ms", "ttft_ms")


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def timing(pred: Pred, key: str) -> float | None:
    """One step's milliseconds from a usable prediction, None when it was not timed."""
    if not usable(pred):
        return None
    return number((pred.get("timings") or {}).get(key))  # type: ignore[union-attr]


def latency_percentiles(preds: Sequence[Pred]) -> dict[str, dict[str, float | None]]:
    """p50/p95/mean (ms) of each timing, over the predictions that report it."""
    out: dict[str, dict[str, float | None]] = {}
    for key in LATENCY_KEYS:
        values = [v for v in (timing(p, key) for p in preds) if v is not None]
        out[key] = {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "mean": mean_or_none(values),
            "n": len(values),
        }
    return out


def tokens_generated(preds: Sequence[Pred]) -> dict[str, float | None]:
    """Mean and total generated tokens, and tokens per second of generation."""
    counts: list[float] = []
    rates: list[float] = []
    for pred in preds:
        if not usable(pred):
            continue
        n = number(pred.get("tokens_generated"))  # type: ignore[union-attr]
        if n is None:
            continue
        counts.append(n)
        gen_ms = (pred.get("timings") or {}).get("generate_ms")  # type: ignore[union-attr]
        if isinstance(gen_ms, int | float) and gen_ms > 0:
            rates.append(n / (gen_ms / 1000.0))
    return {
        "mean": mean_or_none(counts),
        "total": float(sum(counts)) if counts else None,
        "tokens_per_s": mean_or_none(rates),
        "n": len(counts),
    }
