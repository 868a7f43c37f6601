"""Which FAISS index a version's vectors go into, built from blocks of vectors, and how
close an approximate index comes to the exact one.

Small corpora get the exact ``IndexFlatIP`` (the format every earlier version has). From
``exact_max`` vectors on, the index is built with FAISS's index factory string
(``RAG_FAISS_FACTORY``, default ``HNSW32``: a graph over the flat vectors, so
``reconstruct`` and filtered search keep working), with the inner-product metric.
``recall_against_exact`` measures what the approximation loses: the share of the exact
top-k that the approximate search also returns.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

EXACT = "Flat"


@dataclass(frozen=True)
class DenseIndexSpec:
    """``factory`` is used once there are at least ``exact_max`` vectors; below, the exact index."""

    factory: str = "HNSW32"
    exact_max: int = 50_000
    ef_search: int = 128  # HNSW: candidates kept while searching (recall against speed)
    nprobe: int = 16  # IVF: lists visited per search

    def choose(self, n: int) -> str:
        """The factory string for ``n`` vectors."""
        return self.factory if n >= self.exact_max and self.factory != EXACT else EXACT


def spec_from_settings(settings: Any) -> DenseIndexSpec:
    return DenseIndexSpec(
        factory=settings.faiss_factory, exact_max=settings.faiss_exact_max,
        ef_search=settings.faiss_ef_search, nprobe=settings.faiss_nprobe,
    )


def new_index(factory: str, dimension: int, spec: DenseIndexSpec) -> Any:
    """An empty index of the factory string (inner product), search parameters set."""
    import faiss

    if factory == EXACT:
        return faiss.IndexFlatIP(dimension)
    index = faiss.index_factory(dimension, factory, faiss.METRIC_INNER_PRODUCT)
    _set_search_parameters(index, spec)
    return index


def _set_search_parameters(index: Any, spec: DenseIndexSpec) -> None:
    import faiss

    hnsw = getattr(faiss.downcast_index(index), "hnsw", None)
    if hnsw is not None:
        hnsw.efSearch = spec.ef_search
    try:
        ivf = faiss.extract_index_ivf(index)
    except RuntimeError:  # not an IVF index
        return
    ivf.nprobe = spec.nprobe


def build_index(blocks: Iterable[np.ndarray], n: int, dimension: int, spec: DenseIndexSpec) -> Any:
    """The index for ``n`` vectors given in row order as blocks (the index holds them all; the
    blocks need not). IVF factories are trained on the first block (give it enough rows)."""
    import faiss

    factory = spec.choose(n)
    index = new_index(factory, dimension, spec)
    added = 0
    for block in blocks:
        block = np.ascontiguousarray(block, dtype=np.float32)
        if not len(block):
            continue
        if not index.is_trained:
            index.train(block)
        index.add(block)
        added += len(block)
    if added != n:
        raise ValueError(f"expected {n} vectors, got {added}")
    if factory != EXACT:
        try:  # an IVF index answers reconstruct (filtered search, vector reuse) only with a direct map
            faiss.extract_index_ivf(index).make_direct_map()
        except RuntimeError:
            pass
        log.info("dense index %s over %d vectors", factory, n)
    return index


def describe(index: Any) -> str:
    """The kind of a loaded index, for logs and benches (``IndexFlatIP``, ``IndexHNSWFlat`` ...)."""
    import faiss

    return type(faiss.downcast_index(index)).__name__


def recall_against_exact(index: Any, vectors: np.ndarray, queries: np.ndarray, k: int = 10) -> float:
    """Mean share of the exact top-k (brute force over ``vectors``) the index returns for ``queries``."""
    import faiss

    queries = np.ascontiguousarray(queries, dtype=np.float32)
    if not len(queries) or not len(vectors):
        return 1.0
    k = min(k, len(vectors))
    exact = faiss.IndexFlatIP(vectors.shape[1])
    exact.add(np.ascontiguousarray(vectors, dtype=np.float32))
    _, truth = exact.search(queries, k)
    _, found = index.search(queries, k)
    hits = [len(set(t.tolist()) & set(f.tolist())) / k for t, f in zip(truth, found)]
    return float(np.mean(hits))
