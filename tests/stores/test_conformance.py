"""What every RetrievalStore must do, run on each (``kind``: embedded, milvus via Milvus Lite)."""

from __future__ import annotations

import numpy as np
import pytest

from rag.retrieve.base import SearchFilters
from rag.stores.base import RetrievalStore, filter_expression
from tests.stores.stores_support import (
    FEE, FEE_TITLE, STORE_KINDS, articles_by_file, fill, manifest_for, open_kind, put_file, record_of,
)

FILTERS = [
    (SearchFilters(files=["city.txt"]), lambda c: c.file == "city.txt"),
    (SearchFilters(sections=["AI", "理论"]), lambda c: c.section in ("AI", "理论")),
    (SearchFilters(title_contains="金融街"), lambda c: "金融街" in c.title),
    (SearchFilters(files=["finance.txt"], sections=["金融"]), lambda c: c.file == "finance.txt" and c.section == "金融"),
]
NOTHING = [SearchFilters(files=["no-such-file.txt"]), SearchFilters(sections=["没有这个栏目"]),
           SearchFilters(files=["city.txt"], sections=["AI"]), SearchFilters(title_contains="100%_无")]


def _search(store: RetrievalStore, embedder, how: str, query: str, n: int, filters=None, **kw):
    if how == "dense":
        return store.dense_search(embedder.embed_query(query), n, filters)
    if how == "sparse":
        return store.sparse_search(query, n, filters)
    return store.hybrid_search(embedder.embed_query(query), query, n, filters, **kw)


HOWS = ["dense", "sparse", "hybrid"]


def test_is_a_store(store):
    assert isinstance(store, RetrievalStore) and store.kind in STORE_KINDS


@pytest.mark.parametrize("how", HOWS)
def test_an_empty_store_holds_and_finds_nothing(store, embedder, how):
    assert store.manifest() is None and store.version() is None
    assert store.chunks() == [] and store.token_lists() == [] and store.vectors_for(["x"]) == {}
    assert _search(store, embedder, how, FEE, 5) == []


def test_added_files_are_listed_in_order_with_their_records(store, embedder):
    version = fill(store, embedder)
    assert version and store.version() == version
    expected = articles_by_file()
    manifest = store.manifest()
    assert manifest is not None and manifest.embedder == embedder.name and manifest.dimension == embedder.dimension
    assert sorted(manifest.files) == sorted(expected)
    assert all(manifest.files[name] == record_of(chunks) for name, chunks in expected.items())
    assert store.chunks() == [c for name in sorted(expected) for c in expected[name]]
    assert [len(t) > 0 for t in store.token_lists()] == [True] * len(store.chunks())


def test_stored_vectors_come_back(store, embedder):
    fill(store, embedder)
    chunks = store.chunks()[:3]
    vectors = store.vectors_for([c.chunk_id for c in chunks] + ["no-such-id"])
    assert sorted(vectors) == sorted(c.chunk_id for c in chunks)
    for chunk in chunks:
        assert np.allclose(vectors[chunk.chunk_id], embedder.embed_passages([chunk.indexed_text])[0], atol=1e-6)


@pytest.mark.parametrize("how", HOWS)
def test_finds_the_passage_that_answers_best_first(store, embedder, how):
    fill(store, embedder)
    hits = _search(store, embedder, how, FEE, 5)
    assert 1 <= len(hits) <= 5
    assert hits[0].chunk.title == FEE_TITLE
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.chunk.chunk_id for h in hits}) == len(hits)


def test_dense_scores_are_cosines(store, embedder):
    fill(store, embedder)
    query = embedder.embed_query(FEE)
    for hit in store.dense_search(query, 8):
        cosine = float(embedder.embed_passages([hit.chunk.indexed_text])[0] @ query)
        assert hit.score == pytest.approx(cosine, abs=1e-5)


def test_sparse_scores_are_positive_and_only_for_shared_terms(store, embedder):
    fill(store, embedder)
    hits = store.sparse_search("城市云脑", 10)
    assert hits and all(h.score > 0 for h in hits)
    assert all("云脑" in h.chunk.indexed_text or "城市" in h.chunk.indexed_text for h in hits)
    assert store.sparse_search("zzqqxx", 5) == [] and store.sparse_search("  ", 5) == []


def test_sparse_scores_agree_across_stores(open_store, embedder):
    """Milvus's BM25 is brought to bm25s's scale, so RAG_MIN_BM25_SCORE means the same on both."""
    tops = {}
    for kind in STORE_KINDS:
        store = open_store(kind)
        store.warm_up()
        fill(store, embedder)
        tops[kind] = [(h.chunk.chunk_id, h.score) for h in store.sparse_search(FEE, 3)]
    embedded, milvus = tops["embedded"], tops["milvus"]
    assert embedded[0][0] == milvus[0][0]
    # Within 10%: Milvus's jieba analyser also counts punctuation in a passage's length.
    assert milvus[0][1] == pytest.approx(embedded[0][1], rel=0.1)


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
def test_hybrid_fuses_both_lists(store, embedder, fusion):
    fill(store, embedder)
    hits = store.hybrid_search(embedder.embed_query(FEE), FEE, 4, fusion=fusion)
    assert len(hits) == 4 and hits[0].chunk.title == FEE_TITLE
    if fusion == "rrf":  # Σ 1/(60 + rank): in both lists, at most two first places
        assert 1 / 61 < hits[0].score <= 2 / 61 + 1e-6
    else:
        assert 0 < hits[0].score <= 1.0 + 1e-6


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize(("filters", "holds"), FILTERS)
def test_every_hit_matches_the_filters(store, embedder, how, filters, holds):
    fill(store, embedder)
    hits = _search(store, embedder, how, "金融机构的管理费与城市数据，人工智能", 30, filters)
    assert hits and all(holds(h.chunk) for h in hits)
    allowed = [c for c in store.chunks() if holds(c)]
    if how == "dense":  # dense ranks every allowed chunk
        assert len(hits) == min(30, len(allowed))


@pytest.mark.parametrize("how", HOWS)
@pytest.mark.parametrize("filters", NOTHING)
def test_a_filter_matching_nothing_finds_nothing(store, embedder, how, filters):
    fill(store, embedder)
    assert _search(store, embedder, how, FEE, 5, filters) == []


def test_replacing_a_file_swaps_its_chunks_only(store, embedder):
    first = fill(store, embedder)
    before = store.chunks()
    new = articles_by_file([("city.txt", "城市", "地铁新线开通", "地铁十号线今天开通运营，全长三十公里，设站二十座。")])["city.txt"]
    put_file(store, embedder, "city.txt", new)
    second = store.commit(manifest_for(embedder))
    assert second != first and store.version() == second
    after = store.chunks()
    assert [c for c in after if c.file == "city.txt"] == new
    assert [c for c in after if c.file != "city.txt"] == [c for c in before if c.file != "city.txt"]
    assert store.manifest().files["city.txt"] == record_of(new)
    assert store.sparse_search("城市云脑", 5, SearchFilters(files=["city.txt"])) == []
    assert store.sparse_search("地铁十号线", 3)[0].chunk.title == "地铁新线开通"


def test_deleting_a_file_drops_it_everywhere(store, embedder):
    fill(store, embedder)
    store.delete_file("tech.txt")
    store.commit(manifest_for(embedder))
    assert "tech.txt" not in store.manifest().files
    assert all(c.file != "tech.txt" for c in store.chunks())
    for how in HOWS:
        assert all(h.chunk.file != "tech.txt" for h in _search(store, embedder, how, "人工智能大模型", 30))


def test_reset_empties_the_store(store, embedder):
    fill(store, embedder)
    store.reset(embedder.dimension)
    put_file(store, embedder, "city.txt", articles_by_file()["city.txt"])
    store.commit(manifest_for(embedder))
    assert sorted(store.manifest().files) == ["city.txt"]
    assert {c.file for c in store.chunks()} == {"city.txt"}


def test_reopening_after_a_restart_finds_the_same(open_store, kind, embedder, tmp_path):
    store = open_store(kind)
    store.warm_up()
    version = fill(store, embedder)
    chunks = store.chunks()
    hits = [(h.chunk.chunk_id, round(h.score, 5)) for h in store.hybrid_search(embedder.embed_query(FEE), FEE, 5)]
    store.close()
    again = open_kind(kind, tmp_path / kind)
    try:
        again.warm_up()
        assert again.version() == version and again.chunks() == chunks
        assert [(h.chunk.chunk_id, round(h.score, 5)) for h in again.hybrid_search(embedder.embed_query(FEE), FEE, 5)] == hits
    finally:
        again.close()


def test_filter_expressions_quote_and_escape():
    assert filter_expression(None) == "" and filter_expression(SearchFilters()) == ""
    expr = filter_expression(SearchFilters(files=['a"b.txt'], sections=["金融"], title_contains="5%_x"))
    assert expr == 'file in ["a\\"b.txt"] and section in ["金融"] and title like "%5\\\\%\\\\_x%"'
