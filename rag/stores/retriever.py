"""Retrieval over any :class:`~rag.stores.base.RetrievalStore`: the same steps as
rag.retrieve.hybrid (dense and BM25 candidates, fusion, rerank, overlap merge, confidence),
with the candidates coming from the store.

Hybrid ranking fuses the two candidate lists here rather than with the store's own
hybrid search (Milvus's ``hybrid_search`` ranker): the refusal decision reads the raw best
cosine and BM25 scores (rag.retrieve.confidence), which a server-side fused score hides,
and one fusion formula for both stores means their results differ only by what each store
finds. ``RetrievalStore.hybrid_search`` stays available for callers that want one round trip.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from rag.config import Settings
from rag.embed.base import Embedder
from rag.index.manifest import Manifest
from rag.retrieve.base import Method, Reranker, RetrievalResult, SearchFilters
from rag.retrieve.bm25 import IdfTable
from rag.retrieve.confidence import judge_confidence
from rag.retrieve.compound import FusedSearch
from rag.retrieve.merge import merge_overlapping
from rag.stores.base import RetrievalStore
from rag.types import Chunk, ScoredChunk

log = logging.getLogger(__name__)


@dataclass
class StoreView:
    """What a service snapshot reads besides search (the document list, the UI overview):
    the shape of :class:`rag.index.version.IndexData` that those callers use."""

    manifest: Manifest
    version: str
    chunks: list[Chunk]
    tokens: list[list[str]]
    path: Path = Path(".")
    by_id: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.by_id = {c.chunk_id: i for i, c in enumerate(self.chunks)}


def idf_table(token_lists: Sequence[Sequence[str]]) -> IdfTable:
    """Document frequencies of the tokens, as rag.retrieve.bm25 counts them (chunks holding each token)."""
    df: Counter[str] = Counter()
    for tokens in token_lists:
        df.update(set(tokens))
    return IdfTable(n=max(len(token_lists), 1), df=dict(df))


class StoreRetriever(FusedSearch):
    """Searches a store. Cheap to build; :meth:`warm_up` loads the models and connects.

    ``idf`` is the IDF table of the tokens the store holds (read once per version by the
    caller and handed in; computed from the store when not given).
    """

    def __init__(
        self,
        store: RetrievalStore,
        embedder: Embedder,
        settings: Settings,
        reranker: Reranker | None = None,
        idf: IdfTable | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings
        self.reranker = reranker
        self._idf = idf

    @property
    def idf(self) -> IdfTable:
        if self._idf is None:
            self._idf = idf_table(self.store.token_lists())
        return self._idf

    def warm_up(self) -> None:
        self.store.warm_up()
        super().warm_up()

    def search(
        self,
        query: str,
        k: int | None = None,
        filters: SearchFilters | None = None,
        method: Method = "hybrid",
        merge: bool = True,
        query_tokens: Sequence[str] | None = None,
    ) -> RetrievalResult:
        k = k or self.settings.top_k
        n = max(self.settings.retrieval_candidates, k * 3)
        chunks: dict[str, Chunk] = {}
        dense: dict[str, float] = {}
        bm25: dict[str, float] = {}
        if method in ("hybrid", "dense"):
            for hit in self.store.dense_search(self.embedder.embed_query(query), n, filters):
                chunks[hit.chunk.chunk_id], dense[hit.chunk.chunk_id] = hit.chunk, hit.score
        if method in ("hybrid", "bm25"):
            for hit in self.store.sparse_search(query, n, filters, tokens=query_tokens):
                chunks[hit.chunk.chunk_id], bm25[hit.chunk.chunk_id] = hit.chunk, hit.score
        fused = self._fuse(method, dense, bm25)
        # Ties broken by chunk id: both stores then rank equal scores alike, run after run.
        ranked = [
            ScoredChunk(chunk=chunks[cid], score=score, dense_score=dense.get(cid), bm25_score=bm25.get(cid))
            for cid, score in sorted(fused.items(), key=lambda item: (-item[1], item[0]))
        ]
        if self.reranker is not None and ranked:
            ranked = self.reranker.rerank(query, ranked[: max(k * 4, 20)])
        if merge:
            ranked = merge_overlapping(ranked, max_chars=self._max_merged_chars)
        confidence = judge_confidence(dense, bm25, self.settings.min_dense_score, self.settings.min_bm25_score)  # type: ignore[arg-type]
        return RetrievalResult(query=query, results=ranked[:k], confidence=confidence)

