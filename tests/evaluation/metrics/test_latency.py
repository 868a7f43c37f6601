"""Speed and cost metrics on hand-made timings."""

from __future__ import annotations

from typing import Any

import pytest

from rag.evaluation.metrics.latency import latency_percentiles, percentile, tokens_generated


def test_latency_percentiles(make_pred: Any) -> None:
    preds = [
        make_pred(timings={"retrieve_ms": r, "generate_ms": 1000, "total_ms": r + 1000, "ttft_ms": None})
        for r in (100, 200, 300, 400)
    ] + [{"error": "x"}]
    lat = latency_percentiles(preds)
    assert lat["retrieve_ms"]["p50"] == 250
    assert lat["retrieve_ms"]["p95"] == pytest.approx(385)
    assert lat["retrieve_ms"]["n"] == 4
    assert lat["ttft_ms"] == {"p50": None, "p95": None, "mean": None, "n": 0}


def test_booleans_are_not_timings(make_pred: Any) -> None:
    lat = latency_percentiles([make_pred(timings={"total_ms": True}), make_pred(timings={"total_ms": 5})])
    assert lat["total_ms"]["n"] == 1 and lat["total_ms"]["p50"] == 5


def test_tokens_generated(make_pred: Any) -> None:
    preds = [make_pred(tokens=20), make_pred(tokens=40), make_pred(tokens=None)]
    tok = tokens_generated(preds)
    assert tok["mean"] == 30 and tok["total"] == 60 and tok["n"] == 2
    assert tok["tokens_per_s"] == pytest.approx(30)  # generate_ms = 1000


def test_percentile_of_nothing_is_none() -> None:
    assert percentile([], 50) is None
    assert percentile([1.0, 3.0], 50) == 2.0
