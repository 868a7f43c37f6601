"""The retrieval-store interface: what ingest writes and what the retriever searches.

Two implementations pass the same conformance suite (tests/stores/test_conformance.py):
:class:`rag.stores.embedded.EmbeddedStore` (the versioned index folder) and
:class:`rag.stores.milvus.MilvusStore` (a Milvus collection, Milvus Lite or a server).

Writing is by file, as ingest thinks: ``replace_file`` puts a file's chunks in place of
whatever the store held for it, ``delete_file`` drops them, and ``commit`` makes the
changes live with a manifest (embedder, chunking, per-file hashes) and a new version
name. Searching returns raw scores, cosine for dense and BM25 for sparse, because the
refusal thresholds (rag.retrieve.confidence) are calibrated on raw scores.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import numpy as np

from rag.index.manifest import FileRecord, Manifest
from rag.retrieve.base import SearchFilters
from rag.types import Chunk

Fusion = Literal["weighted", "rrf"]


@dataclass(frozen=True)
class StoreHit:
    """One chunk a store search found, with that search's score (higher is better)."""

    chunk: Chunk
    score: float


@runtime_checkable
class RetrievalStore(Protocol):
    """A place that holds chunks with their vectors and BM25 terms, written by file.

    Constructing one is cheap (no connection, no file read); :meth:`warm_up` connects or loads.
    """

    kind: str  # "embedded" or "milvus"

    def warm_up(self) -> None: ...

    def close(self) -> None:
        """Release connections and open files (the store may be opened again later)."""
        ...

    # -- what is there
    def manifest(self) -> Manifest | None:
        """The manifest of the live version; None for a store nothing was committed to."""
        ...

    def version(self) -> str | None:
        """The live version's name (changes on every commit that changed something)."""
        ...

    def chunks(self) -> list[Chunk]:
        """Every live chunk, by file name and then position in the file."""
        ...

    def token_lists(self) -> list[list[str]]:
        """The BM25 tokens (rag.index.tokenize) of :meth:`chunks`, aligned with it."""
        ...

    def vectors_for(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of those chunk ids it holds (ingest reuses them instead of re-embedding)."""
        ...

    # -- writing
    def reset(self, dimension: int) -> None:
        """Drop every chunk and the manifest (another embedder: no vector is reusable)."""
        ...

    def replace_file(
        self, name: str, record: FileRecord, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]], vectors: np.ndarray
    ) -> None: ...

    def delete_file(self, name: str) -> None: ...

    def commit(self, manifest: Manifest) -> str:
        """Make the writes live with ``manifest`` (its ``files`` are replaced by what the store holds);
        returns the new version name."""
        ...

    # -- searching
    def dense_search(self, vector: np.ndarray, n: int, filters: SearchFilters | None = None) -> list[StoreHit]:
        """The n chunks nearest to a unit query vector, best first; scores are cosines."""
        ...

    def sparse_search(
        self, query: str, n: int, filters: SearchFilters | None = None, tokens: Sequence[str] | None = None
    ) -> list[StoreHit]:
        """The n best BM25 matches (score > 0), best first. ``tokens`` are the query's
        rag.index.tokenize tokens when the caller has them; a store whose server analyses
        text itself (Milvus's jieba analyzer) reads ``query``."""
        ...

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
        """Dense and BM25 fused in the store (weighted or reciprocal-rank); scores are the fused ones."""
        ...


def normalise_for_bm25(text: str) -> str:
    """The text a server-side analyser reads: NFKC and lower case, as rag.index.tokenize reads it,
    so full-width letters and digits (ＧＤＰ, ５％) match their ASCII forms."""
    return unicodedata.normalize("NFKC", text).lower()


def filter_expression(filters: SearchFilters | None) -> str:
    """A Milvus boolean expression for the filters ('' for none).

    String literals are JSON strings (Milvus reads the same escapes). ``like`` treats % and _
    as wildcards, so the title substring has them escaped; callers still check every hit with
    ``SearchFilters.matches`` so both stores answer exactly alike.
    """
    import json

    if filters is None or filters.is_empty():
        return ""
    parts = []
    if filters.files:
        parts.append(f"file in [{', '.join(json.dumps(f, ensure_ascii=False) for f in filters.files)}]")
    if filters.sections:
        parts.append(f"section in [{', '.join(json.dumps(s, ensure_ascii=False) for s in filters.sections)}]")
    if filters.title_contains:
        escaped = filters.title_contains.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        parts.append(f"title like {json.dumps('%' + escaped + '%', ensure_ascii=False)}")
    return " and ".join(parts)
