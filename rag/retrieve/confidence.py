"""Whether a search found anything the index really holds: the calibrated score thresholds.

Fused scores are relative (min-max or rank based) and say nothing about absolute
relevance, so the refusal decision reads the raw best scores of each list instead:
a query is answerable from the index when its best passage is close enough in
meaning (cosine) *or* shares enough rare terms (BM25). The thresholds
(``RAG_MIN_DENSE_SCORE``, ``RAG_MIN_BM25_SCORE``) were calibrated on the dev set.
"""

from __future__ import annotations

from collections.abc import Mapping

from rag.types import Confidence


def judge_confidence(
    dense: Mapping[int, float], bm25: Mapping[int, float], min_dense: float, min_bm25: float
) -> Confidence:
    """The best dense and BM25 scores of one search, and whether either clears its threshold."""
    best_dense = max(dense.values(), default=0.0)
    best_bm25 = max(bm25.values(), default=0.0)
    return Confidence(dense=best_dense, bm25=best_bm25, relevant=best_dense >= min_dense or best_bm25 >= min_bm25)
