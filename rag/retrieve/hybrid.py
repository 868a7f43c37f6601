"""Hybrid retrieval as a composition: dense and BM25 candidates, fused, reranked, merged, judged.

Each step lives in its own module (:mod:`~rag.retrieve.dense`, :mod:`~rag.retrieve.bm25`,
:mod:`~rag.retrieve.fusion`, :mod:`~rag.retrieve.merge`, :mod:`~rag.retrieve.confidence`);
this one only decides which steps a search runs and in what order.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
import numpy as np

from rag.config import Settings
from rag.embed.base import Embedder
from rag.index.store import IndexData
from rag.retrieve.base import Method, Reranker, RetrievalResult, SearchFilters
from rag.retrieve.bm25 import Bm25Search, IdfTable
from rag.retrieve.confidence import judge_confidence
from rag.retrieve.dense import DenseSearch
from rag.retrieve.fusion import reciprocal_rank_fusion, round_robin, weighted_fusion
from rag.retrieve.merge import merge_overlapping
from rag.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)

WARM_UP_QUERY = "预热"


def allowed_rows(chunks: Sequence[Chunk], filters: SearchFilters | None) -> np.ndarray | None:
    """The rows a filtered search may return (None: no filter, every row)."""
    if filters is None or filters.is_empty():
        return None
    return np.array([i for i, c in enumerate(chunks) if filters.matches(c)], dtype=np.int64)


class HybridRetriever:
    """Searches one loaded index version. Build once per index version and reuse for every query.

    The constructor builds the in-memory BM25 matrix from the tokens it is given and
    loads nothing; :meth:`warm_up` loads the models and initialises jieba.
    """

    def __init__(self, index: IndexData, embedder: Embedder, settings: Settings, reranker: Reranker | None = None):
        self.index = index
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self.dense = DenseSearch(index, embedder)
        self.bm25 = Bm25Search(index.tokens)

    @property
    def idf(self) -> IdfTable:
        """Document frequencies of this index version's BM25 tokens."""
        return self.bm25.idf

    def warm_up(self) -> None:
        """Load the models and initialise jieba now, not on the first user's question."""
        self.embedder.warm_up()
        if self.reranker is not None:
            self.reranker.warm_up()
        self.search(WARM_UP_QUERY, k=1)

    # -- public API ------------------------------------------------------------
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        method: Method = "hybrid",
        merge: bool = True,
        query_tokens: Sequence[str] | None = None,
    ) -> RetrievalResult:
        """The k best passages for ``query``.

        ``query_tokens`` are the query's BM25 tokens when the caller has already
        tokenised it (they must come from :func:`rag.index.tokenize.tokenize`);
        otherwise the query is tokenised here.
        """
        k = k or self.settings.top_k
        n = max(self.settings.retrieval_candidates, k * 3)
        allowed = allowed_rows(self.index.chunks, filters)
        dense: dict[int, float] = {}
        bm25: dict[int, float] = {}
        if method in ("hybrid", "dense"):
            dense = self.dense.search(query, n, allowed)
        if method in ("hybrid", "bm25"):
            tokens = self.bm25.query_tokens(query) if query_tokens is None else query_tokens
            bm25 = self.bm25.search(tokens, n, allowed)

        fused = self._fuse(method, dense, bm25)
        ranked = [
            ScoredChunk(chunk=self.index.chunks[row], score=score, dense_score=dense.get(row), bm25_score=bm25.get(row))
            for row, score in sorted(fused.items(), key=lambda item: -item[1])
        ]
        if self.reranker is not None and ranked:
            ranked = self.reranker.rerank(query, ranked[: max(k * 4, 20)])
        if merge:
            ranked = merge_overlapping(ranked, max_chars=self._max_merged_chars)
        confidence = judge_confidence(dense, bm25, self.settings.min_dense_score, self.settings.min_bm25_score)
        return RetrievalResult(query=query, results=ranked[:k], confidence=confidence)

    def search_compound(
        self,
        query: str,
        parts: list[str],
        k: int | None = None,
        filters: SearchFilters | None = None,
        query_tokens: Sequence[Sequence[str]] | None = None,
        whole_tokens: Sequence[str] | None = None,
    ) -> RetrievalResult:
        """A question that asks several things: each part gets passages of its own.

        The whole question's ranking is interleaved with each part's, so a two-part
        question whose answers sit in two articles finds both within k. The
        confidence is the whole question's.

        ``query_tokens[i]`` are the BM25 tokens of ``parts[i]``, ``whole_tokens``
        those of ``query``; either may be omitted (tokenised here). A single part
        equal to the query stands for the whole question.
        """
        if query_tokens is not None and len(query_tokens) != len(parts):
            raise ValueError(f"query_tokens has {len(query_tokens)} token lists for {len(parts)} parts")
        k = k or self.settings.top_k
        if len(parts) < 2:
            if whole_tokens is None and query_tokens and parts == [query]:
                whole_tokens = query_tokens[0]
            return self.search(query, k=k, filters=filters, query_tokens=whole_tokens)
        whole = self.search(query, k=k, filters=filters, merge=False, query_tokens=whole_tokens)
        per_part = query_tokens or [None] * len(parts)
        rankings = [whole.results] + [
            self.search(part, k=k, filters=filters, merge=False, query_tokens=tokens).results
            for part, tokens in zip(parts, per_part)
        ]
        interleaved = round_robin(rankings, key=lambda item: item.chunk.chunk_id)
        merged = merge_overlapping(interleaved, max_chars=self._max_merged_chars)
        return RetrievalResult(query=query, results=merged[:k], confidence=whole.confidence)

    # -- steps -----------------------------------------------------------------
    @property
    def _max_merged_chars(self) -> int:
        # Room for one long chunk plus one ordinary one: a merged passage must stay short
        # enough to read and to send to the model.
        return self.settings.chunk_max_size + self.settings.chunk_size

    def _fuse(self, method: Method, dense: dict[int, float], bm25: dict[int, float]) -> dict[int, float]:
        if method == "dense":
            return dict(dense)
        if method == "bm25":
            return dict(bm25)
        if self.settings.fusion == "weighted":
            return weighted_fusion(dense, bm25, self.settings.dense_weight)
        return reciprocal_rank_fusion([dense, bm25], self.settings.rrf_k)
