"""What every retriever over chunks shares, whatever holds them: fusing the dense and BM25
lists, and compound questions ("…多少？又…？") searched part by part.

:class:`rag.retrieve.hybrid.HybridRetriever` (the index folder) and
:class:`rag.stores.retriever.StoreRetriever` (any retrieval store) inherit it and give
``settings`` and ``search``.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Sequence
from typing import TypeVar

from rag.config import Settings
from rag.embed.base import Embedder
from rag.retrieve.base import Method, Reranker, RetrievalResult, SearchFilters
from rag.retrieve.fusion import reciprocal_rank_fusion, round_robin, weighted_fusion
from rag.retrieve.merge import merge_overlapping

Key = TypeVar("Key", bound=Hashable)

WARM_UP_QUERY = "预热"


class FusedSearch(ABC):
    """Fusion, compound search and warm-up on top of a subclass's :meth:`search`."""

    settings: Settings
    embedder: Embedder
    reranker: Reranker | None

    def warm_up(self) -> None:
        """Load the models and initialise jieba now, not on the first user's question."""
        self.embedder.warm_up()
        if self.reranker is not None:
            self.reranker.warm_up()
        self.search(WARM_UP_QUERY, k=1)

    @abstractmethod
    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        method: Method = "hybrid",
        merge: bool = True,
        query_tokens: Sequence[str] | None = None,
    ) -> RetrievalResult:
        """The k best passages (the :class:`rag.retrieve.base.Retriever` contract); with
        ``merge``, overlapping neighbours joined; ``query_tokens``: BM25 tokens already made."""

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

    @property
    def _max_merged_chars(self) -> int:
        # Room for one long chunk plus one ordinary one: a merged passage must stay short
        # enough to read and to send to the model.
        return self.settings.chunk_max_size + self.settings.chunk_size

    def _fuse(self, method: Method, dense: dict[Key, float], bm25: dict[Key, float]) -> dict[Key, float]:
        if method == "dense":
            return dict(dense)
        if method == "bm25":
            return dict(bm25)
        if self.settings.fusion == "weighted":
            return weighted_fusion(dense, bm25, self.settings.dense_weight)
        return reciprocal_rank_fusion([dense, bm25], self.settings.rrf_k)
