"""Dense search on the small index (hash embedder): FAISS top-n, and exact scoring within rows."""

from __future__ import annotations

import numpy as np
import pytest

from rag.retrieve.dense import DenseSearch
from tests.retrieve.small_index import empty_index


def test_top_n_by_cosine(small_index, hash_embedder):
    dense = DenseSearch(small_index, hash_embedder)
    hits = dense.search("黑石BXPE的管理费", n=5)
    assert len(hits) == 5
    scores = list(hits.values())
    assert scores == sorted(scores, reverse=True)
    expected = small_index.vectors() @ hash_embedder.embed_query("黑石BXPE的管理费")
    for row, score in hits.items():
        assert score == pytest.approx(float(expected[row]), abs=1e-5)
    assert small_index.chunks[next(iter(hits))].file == "finance.txt"
    assert len(dense.search("管理费", n=1000)) == len(small_index.chunks)


def test_filtered_rows_are_scored_exactly(small_index, hash_embedder, monkeypatch):
    dense = DenseSearch(small_index, hash_embedder)
    everything = dense.search("黑石BXPE的管理费", n=1000)
    # Only the allowed rows' vectors are read: a copy of the whole index per query would
    # cost 170 MB at 110k chunks.
    monkeypatch.setattr(type(small_index), "vectors", lambda self: pytest.fail("copied every vector"))
    rows = np.array([i for i, c in enumerate(small_index.chunks) if c.file == "city.txt"], dtype=np.int64)
    hits = dense.search("黑石BXPE的管理费", n=3, allowed=rows)
    assert len(hits) == 3 and set(hits) <= set(rows.tolist())
    for row, score in hits.items():
        assert score == pytest.approx(everything[row], abs=1e-5)
    assert dense.search("管理费", n=3, allowed=np.array([], dtype=np.int64)) == {}


def test_empty_index_needs_no_embedding(tmp_path):
    class Unusable:
        name, dimension = "unusable", 8

        def embed_query(self, text):
            raise AssertionError("an empty index must not embed the query")

    assert DenseSearch(empty_index(tmp_path, 8), Unusable()).search("管理费", n=5) == {}
