"""The dense index follows size: exact below the threshold, the factory string above, its
recall against exact measured; approximate versions load back and reconstruct their vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rag.index.dense_index import DenseIndexSpec, build_index, describe, recall_against_exact
from rag.index.store import load_index, write_index
from tests.index import synthetic


def _unit(n: int, dim: int = 32, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_exact_below_the_threshold_factory_above():
    spec = DenseIndexSpec(factory="HNSW16", exact_max=100)
    assert spec.choose(99) == "Flat" and spec.choose(100) == "HNSW16"
    assert DenseIndexSpec(factory="Flat", exact_max=0).choose(10**6) == "Flat"
    vectors = _unit(300)
    assert describe(build_index([vectors[:50]], 50, 32, spec)) == "IndexFlatIP"
    blocks = [vectors[:128], vectors[128:]]
    assert describe(build_index(blocks, 300, 32, spec)) == "IndexHNSWFlat"


def test_recall_of_hnsw_and_ivf_against_exact():
    vectors, queries = _unit(2000), _unit(50, seed=1)
    exact = build_index([vectors], 2000, 32, DenseIndexSpec(factory="Flat"))
    assert recall_against_exact(exact, vectors, queries, k=10) == 1.0
    hnsw = build_index([vectors], 2000, 32, DenseIndexSpec(factory="HNSW32", exact_max=1, ef_search=128))
    assert recall_against_exact(hnsw, vectors, queries, k=10) >= 0.9
    ivf = build_index([vectors], 2000, 32, DenseIndexSpec(factory="IVF16,Flat", exact_max=1, nprobe=16))
    assert recall_against_exact(ivf, vectors, queries, k=10) == 1.0  # every list visited: exact
    np.testing.assert_array_equal(ivf.reconstruct(7), vectors[7])  # direct map made


def test_an_approximate_version_round_trips(tmp_path: Path):
    chunks = synthetic.chunks(40)
    tokens = [["词"] for _ in chunks]
    vectors = synthetic.vectors(40)
    write_index(tmp_path, synthetic.manifest(chunks), chunks, tokens, vectors,
                spec=DenseIndexSpec(factory="HNSW8", exact_max=10, ef_search=77))
    loaded = load_index(tmp_path)
    assert loaded.manifest.dense_index == "HNSW8"
    assert describe(loaded.faiss_index) == "IndexHNSWFlat"
    assert loaded.faiss_index.hnsw.efSearch == 77  # search breadth is stored with the index
    np.testing.assert_allclose(loaded.vectors(), vectors, atol=1e-6)
    # Some rows alone (a filtered search, a changed file), without copying them all.
    np.testing.assert_allclose(loaded.vectors_at([39, 0, 7]), vectors[[39, 0, 7]], atol=1e-6)
    assert loaded.vectors_at([]).shape == (0, vectors.shape[1])
    _, rows = loaded.faiss_index.search(vectors[:5], 1)
    assert rows[:, 0].tolist() == [0, 1, 2, 3, 4]
