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
from rag.index.tokenize import use_lexicon
from rag.retrieve.base import Method, Reranker, RetrievalResult, SearchFilters
from rag.retrieve.bm25 import Bm25Search, IdfTable
from rag.retrieve.confidence import judge_confidence
from rag.retrieve.dense import DenseSearch
from rag.retrieve.compound import FusedSearch
from rag.retrieve.merge import merge_overlapping
from rag.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)


def allowed_rows(chunks: Sequence[Chunk], filters: SearchFilters | None) -> np.ndarray | None:
    """The rows a filtered search may return (None: no filter, every row)."""
    if filters is None or filters.is_empty():
        return None
    return np.array([i for i, c in enumerate(chunks) if filters.matches(c)], dtype=np.int64)


class HybridRetriever(FusedSearch):
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
        tokenised it (they must come from :func:`rag.index.tokenize.query_tokens`, with
        this index's lexicon in use); otherwise the query is tokenised here.
        """
        use_lexicon(self.index.lexicon)
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
