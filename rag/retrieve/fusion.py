"""Rank fusion of dense and BM25 candidate lists (row -> score)."""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from typing import TypeVar

T = TypeVar("T")


def reciprocal_rank_fusion(rankings: list[dict[int, float]], k: int = 60) -> dict[int, float]:
    """Σ 1/(k + rank): robust to the very different scales of cosine and BM25 scores."""
    fused: dict[int, float] = {}
    for ranking in rankings:
        for rank, row in enumerate(sorted(ranking, key=lambda r: -ranking[r]), start=1):
            fused[row] = fused.get(row, 0.0) + 1.0 / (k + rank)
    return fused


def _min_max(scores: dict[int, float]) -> dict[int, float]:
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    span = high - low or 1.0
    return {row: (score - low) / span for row, score in scores.items()}


def weighted_fusion(dense: dict[int, float], bm25: dict[int, float], dense_weight: float = 0.5) -> dict[int, float]:
    """dense_weight·norm(dense) + (1-dense_weight)·norm(bm25), each min-max normalised over its candidates."""
    nd, nb = _min_max(dense), _min_max(bm25)
    return {
        row: dense_weight * nd.get(row, 0.0) + (1 - dense_weight) * nb.get(row, 0.0)
        for row in set(nd) | set(nb)
    }


def round_robin(rankings: Sequence[Sequence[T]], key: Callable[[T], Hashable]) -> list[T]:
    """Interleave ranked lists (first of each, then second of each, …), first occurrence wins."""
    seen: set[Hashable] = set()
    merged: list[T] = []
    for rank in range(max((len(r) for r in rankings), default=0)):
        for ranking in rankings:
            if rank < len(ranking) and key(ranking[rank]) not in seen:
                seen.add(key(ranking[rank]))
                merged.append(ranking[rank])
    return merged
