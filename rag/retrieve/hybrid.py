"""Hybrid retrieval: dense (FAISS) and BM25 (jieba tokens), fused, merged, optionally reranked."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field, replace
from typing import Literal

import bm25s
import numpy as np

from rag.config import Settings, get_settings
from rag.embed.base import Embedder
from rag.index.store import IndexData
from rag.index.tokenize import tokenize
from rag.retrieve.base import Confidence, RetrievalResult, SearchFilters
from rag.retrieve.fusion import reciprocal_rank_fusion, round_robin, weighted_fusion
from rag.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)

Method = Literal["hybrid", "dense", "bm25"]


@dataclass
class _Candidates:
    dense: dict[int, float] = field(default_factory=dict)  # row -> cosine
    bm25: dict[int, float] = field(default_factory=dict)  # row -> BM25 score


class HybridRetriever:
    """Searches one loaded index version. Build once per process and reuse for every query."""

    def __init__(self, index: IndexData, embedder: Embedder, settings: Settings | None = None, reranker=None):
        self.index = index
        self.embedder = embedder
        self.settings = settings or get_settings()
        self.reranker = reranker
        self.bm25 = bm25s.BM25()
        self._has_bm25 = bool(index.chunks)
        if self._has_bm25:
            self.bm25.index(index.tokens, show_progress=False)

    # -- candidate generation -------------------------------------------------
    def _allowed_rows(self, filters: SearchFilters | None) -> np.ndarray | None:
        if filters is None or filters.is_empty():
            return None
        return np.array([i for i, c in enumerate(self.index.chunks) if filters.matches(c)], dtype=np.int64)

    def _dense(self, query: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        total = self.index.faiss_index.ntotal
        if total == 0:
            return {}
        vector = self.embedder.embed_query(query).reshape(1, -1)
        if allowed is not None:
            if not len(allowed):
                return {}
            scores = self.index.vectors()[allowed] @ vector[0]
            order = np.argsort(-scores)[:n]
            return {int(allowed[i]): float(scores[i]) for i in order}
        scores, rows = self.index.faiss_index.search(vector, min(n, total))
        return {int(r): float(s) for r, s in zip(rows[0], scores[0]) if r >= 0}

    def _bm25(self, query: str, n: int, allowed: np.ndarray | None) -> dict[int, float]:
        tokens = [t for t in tokenize(query) if t in self.bm25.vocab_dict] if self._has_bm25 else []
        if not tokens or not self._has_bm25:
            return {}
        scores = self.bm25.get_scores(tokens)
        if allowed is not None:
            mask = np.full(len(scores), -np.inf)
            mask[allowed] = scores[allowed]
            scores = mask
        order = np.argsort(-scores)[:n]
        return {int(i): float(scores[i]) for i in order if scores[i] > 0}

    # -- public API ------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        method: Method = "hybrid",
        merge: bool = True,
    ) -> RetrievalResult:
        k = k or self.settings.top_k
        n = max(self.settings.retrieval_candidates, k * 3)
        allowed = self._allowed_rows(filters)
        cand = _Candidates()
        if method in ("hybrid", "dense"):
            cand.dense = self._dense(query, n, allowed)
        if method in ("hybrid", "bm25"):
            cand.bm25 = self._bm25(query, n, allowed)

        if method == "dense":
            fused = dict(cand.dense)
        elif method == "bm25":
            fused = dict(cand.bm25)
        elif self.settings.fusion == "weighted":
            fused = weighted_fusion(cand.dense, cand.bm25, self.settings.dense_weight)
        else:
            fused = reciprocal_rank_fusion([cand.dense, cand.bm25], self.settings.rrf_k)

        ranked = [
            ScoredChunk(
                chunk=self.index.chunks[row],
                score=score,
                dense_score=cand.dense.get(row),
                bm25_score=cand.bm25.get(row),
            )
            for row, score in sorted(fused.items(), key=lambda item: -item[1])
        ]
        if self.reranker is not None and ranked:
            ranked = self.reranker.rerank(query, ranked[: max(k * 4, 20)])
        if merge:
            ranked = merge_overlapping(ranked, max_chars=self.settings.chunk_max_size + self.settings.chunk_size)
        confidence = Confidence(
            dense=max(cand.dense.values(), default=0.0),
            bm25=max(cand.bm25.values(), default=0.0),
        )
        confidence.relevant = confidence.dense >= self.settings.min_dense_score or (
            confidence.bm25 >= self.settings.min_bm25_score
        )
        return RetrievalResult(query=query, results=ranked[:k], confidence=confidence)

    def search_compound(
        self, query: str, parts: list[str], k: int | None = None, filters: SearchFilters | None = None
    ) -> RetrievalResult:
        """A question that asks several things: each part gets passages of its own.

        The whole question's ranking is interleaved with each part's, so a two-part
        question whose answers sit in two articles finds both within k. The
        confidence is the whole question's.
        """
        k = k or self.settings.top_k
        if len(parts) < 2:
            return self.search(query, k=k, filters=filters)
        whole = self.search(query, k=k, filters=filters, merge=False)
        rankings = [whole.results] + [self.search(p, k=k, filters=filters, merge=False).results for p in parts]
        interleaved = round_robin(rankings, key=lambda item: item.chunk.chunk_id)
        merged = merge_overlapping(interleaved, max_chars=self.settings.chunk_max_size + self.settings.chunk_size)
        return RetrievalResult(query=query, results=merged[:k], confidence=whole.confidence)


def _overlaps(a: Chunk, b: Chunk) -> bool:
    return a.file == b.file and a.article_index == b.article_index and a.start < b.end and b.start < a.end


def _merge_two(a: Chunk, b: Chunk) -> Chunk:
    """Union of two overlapping passages of one article, using their offsets.

    The better-ranked passage ``a`` keeps its id and metadata.
    """
    first, second = (a, b) if a.start <= b.start else (b, a)
    text = first.text if second.end <= first.end else first.text + second.text[first.end - second.start :]
    return replace(a, text=text, start=first.start, end=max(first.end, second.end))


def merge_overlapping(ranked: list[ScoredChunk], max_chars: int = 1000) -> list[ScoredChunk]:
    """Fold passages that overlap in the same article into the best-ranked one.

    The result never holds two overlapping passages. An overlapping passage is merged
    into the better-ranked one (its id goes to ``extra["merged_ids"]``) when the union
    stays within max_chars and touches no other kept passage; otherwise it is dropped
    (``extra["dropped_ids"]``): the better-ranked passage already shows the shared text,
    and a cited passage should stay short enough to read and to send to the model.
    """
    merged: list[ScoredChunk] = []
    for item in ranked:
        overlapping = [kept for kept in merged if _overlaps(kept.chunk, item.chunk)]
        if not overlapping:
            merged.append(item)
            continue
        best = overlapping[0]
        union = _merge_two(best.chunk, item.chunk)
        fits = len(union.text) <= max_chars
        clashes = any(_overlaps(other.chunk, union) for other in merged if other is not best)
        if fits and not clashes:
            best.chunk = union
            if item.dense_score is not None:
                best.dense_score = max(best.dense_score or 0.0, item.dense_score)
            if item.bm25_score is not None:
                best.bm25_score = max(best.bm25_score or 0.0, item.bm25_score)
            best.extra.setdefault("merged_ids", []).append(item.chunk.chunk_id)
        else:
            best.extra.setdefault("dropped_ids", []).append(item.chunk.chunk_id)
    return merged
