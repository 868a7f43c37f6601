"""Dense search: the query's embedding against the FAISS vectors, optionally within some rows."""

from __future__ import annotations

import numpy as np

from rag.embed.base import Embedder
from rag.index.store import IndexData


class DenseSearch:
    """Inner-product search over one index version (vectors are normalised: scores are cosines)."""

    def __init__(self, index: IndexData, embedder: Embedder):
        self.index = index
        self.embedder = embedder

    def search(self, query: str, n: int, allowed: np.ndarray | None = None) -> dict[int, float]:
        """The n nearest rows (row -> cosine), within ``allowed`` rows if given."""
        total = self.index.faiss_index.ntotal
        if total == 0:
            return {}
        vector = self.embedder.embed_query(query).reshape(1, -1)
        if allowed is not None:
            if not len(allowed):
                return {}
            # A filtered search scores only the allowed rows exactly: FAISS's flat index
            # has no row filter, and a post-filtered top-n could come back empty.
            scores = self.index.vectors_at(allowed) @ vector[0]
            order = np.argsort(-scores)[:n]
            return {int(allowed[i]): float(scores[i]) for i in order}
        scores, rows = self.index.faiss_index.search(vector, min(n, total))
        return {int(r): float(s) for r, s in zip(rows[0], scores[0]) if r >= 0}
