"""The embedded store: the versioned index folder (rag.index.store) behind the store interface.

Reads go to the live version, loaded whole (FAISS flat index, bm25s matrix rebuilt from
the stored tokens). Writes are staged in memory by file and ``commit`` writes them as one
complete new version and switches CURRENT, so readers keep the folder's atomic,
verified, rollback-able versions. ``rag ingest`` with ``RAG_STORE=embedded`` still runs
rag.ingest.pipeline itself (unchanged); this adapter is what lets the same conformance
suite, retriever and store ingest run on both stores.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from rag.index.manifest import FileRecord, Manifest
from rag.index.store import current_version_dir, load_index, write_index
from rag.index.tokenize import query_tokens, use_lexicon
from rag.index.version import IndexData
from rag.retrieve.base import SearchFilters
from rag.retrieve.bm25 import Bm25Search
from rag.retrieve.dense import DenseSearch
from rag.retrieve.fusion import reciprocal_rank_fusion, weighted_fusion
from rag.retrieve.hybrid import allowed_rows
from rag.stores.base import Fusion, StoreHit
from rag.types import Chunk

log = logging.getLogger(__name__)


class _QueryVector:
    """DenseSearch embeds its query itself; the store is handed the vector already."""

    def __init__(self, vector: np.ndarray):
        self.vector = vector

    def embed_query(self, text: str) -> np.ndarray:
        return self.vector


class EmbeddedStore:
    kind = "embedded"

    def __init__(self, index_dir: Path):
        self.index_dir = Path(index_dir)
        self._index: IndexData | None = None
        self._bm25: Bm25Search | None = None
        # file -> (record, chunks, tokens, vectors); None until the first write
        self._staged: dict[str, tuple[FileRecord, list[Chunk], list[list[str]], np.ndarray]] | None = None
        self._dimension: int | None = None

    # ---------------------------------------------------------------- reading
    def warm_up(self) -> None:
        self._live()

    def close(self) -> None:
        self._index = self._bm25 = None
        self._staged = None

    def _live(self) -> IndexData | None:
        """The live version, reloaded when CURRENT moved; None before the first commit."""
        live = current_version_dir(self.index_dir)
        if live is None:
            return None
        if self._index is None or self._index.version != live.name:
            self._index = load_index(self.index_dir)
            self._bm25 = None
        use_lexicon(self._index.lexicon)  # questions are cut as the index's chunks were
        return self._index

    def _bm25_search(self, index: IndexData) -> Bm25Search:
        if self._bm25 is None:
            self._bm25 = Bm25Search(index.tokens)
        return self._bm25

    def manifest(self) -> Manifest | None:
        index = self._live()
        return None if index is None else index.manifest

    def version(self) -> str | None:
        live = current_version_dir(self.index_dir)
        return None if live is None else live.name

    def chunks(self) -> list[Chunk]:
        index = self._live()
        return [] if index is None else list(index.chunks)

    def token_lists(self) -> list[list[str]]:
        index = self._live()
        return [] if index is None else [list(t) for t in index.tokens]

    def vectors_for(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        index = self._live()
        if index is None:
            return {}
        rows = {cid: index.by_id[cid] for cid in chunk_ids if cid in index.by_id}
        if not rows:
            return {}
        vectors = index.vectors_at(list(rows.values()))
        return dict(zip(rows, vectors))

    # ---------------------------------------------------------------- writing
    def _stage(self) -> dict[str, tuple[FileRecord, list[Chunk], list[list[str]], np.ndarray]]:
        if self._staged is None:
            self._staged = {}
            index = self._live()
            if index is not None:
                self._dimension = index.manifest.dimension
                vectors = index.vectors()
                for name, record in index.manifest.files.items():
                    rows = index.rows_for_file(name)
                    self._staged[name] = (
                        record, [index.chunks[i] for i in rows], [index.tokens[i] for i in rows], vectors[rows]
                    )
        return self._staged

    def reset(self, dimension: int) -> None:
        self._staged = {}
        self._dimension = dimension

    def replace_file(
        self, name: str, record: FileRecord, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]], vectors: np.ndarray
    ) -> None:
        if len(chunks) != len(tokens) or len(chunks) != len(vectors):
            raise ValueError("chunks, tokens and vectors must align")
        if any(c.file != name for c in chunks):
            raise ValueError(f"every chunk of {name!r} must name that file")
        self._stage()[name] = (record, list(chunks), [list(t) for t in tokens], np.asarray(vectors, dtype=np.float32))

    def delete_file(self, name: str) -> None:
        self._stage().pop(name, None)

    def commit(self, manifest: Manifest) -> str:
        staged = self._stage()
        names = sorted(staged)
        chunks = [c for name in names for c in staged[name][1]]
        tokens = [t for name in names for t in staged[name][2]]
        dimension = manifest.dimension
        parts = [staged[name][3] for name in names]
        vectors = np.concatenate(parts) if parts else np.zeros((0, dimension), dtype=np.float32)
        manifest.files = {name: staged[name][0] for name in names}
        path = write_index(self.index_dir, manifest, chunks, tokens, vectors)
        self._staged = None
        log.info("embedded store committed version %s: %d chunks", path.name, len(chunks))
        return path.name

    # ---------------------------------------------------------------- searching
    def dense_search(self, vector: np.ndarray, n: int, filters: SearchFilters | None = None) -> list[StoreHit]:
        index = self._live()
        if index is None:
            return []
        allowed = allowed_rows(index.chunks, filters)
        found = DenseSearch(index, _QueryVector(np.asarray(vector, dtype=np.float32))).search("", n, allowed)  # type: ignore[arg-type]
        return [StoreHit(index.chunks[row], score) for row, score in found.items()]

    def sparse_search(
        self, query: str, n: int, filters: SearchFilters | None = None, tokens: Sequence[str] | None = None
    ) -> list[StoreHit]:
        index = self._live()
        if index is None:
            return []
        allowed = allowed_rows(index.chunks, filters)
        found = self._bm25_search(index).search(query_tokens(query) if tokens is None else tokens, n, allowed)
        return [StoreHit(index.chunks[row], score) for row, score in found.items()]

    def hybrid_search(
        self,
        vector: np.ndarray,
        query: str,
        n: int,
        filters: SearchFilters | None = None,
        fusion: Fusion = "weighted",
        dense_weight: float = 0.4,
        rrf_k: int = 60,
    ) -> list[StoreHit]:
        index = self._live()
        if index is None:
            return []
        dense = {index.by_id[h.chunk.chunk_id]: h.score for h in self.dense_search(vector, n, filters)}
        bm25 = {index.by_id[h.chunk.chunk_id]: h.score for h in self.sparse_search(query, n, filters)}
        fused = weighted_fusion(dense, bm25, dense_weight) if fusion == "weighted" else reciprocal_rank_fusion([dense, bm25], rrf_k)
        ranked = sorted(fused.items(), key=lambda item: -item[1])[:n]
        return [StoreHit(index.chunks[row], score) for row, score in ranked]
