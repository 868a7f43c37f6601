"""What every Retriever must do, checked on each implementation over a small index (hash embedder).

Add an implementation to ``RETRIEVERS`` and it gets the whole suite.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import combinations

import pytest

from rag.config import Settings
from rag.embed.base import Embedder
from rag.index.store import IndexData
from rag.index.tokenize import tokenize
from rag.retrieve.base import Retriever, RetrievalResult, SearchFilters
from rag.retrieve.hybrid import HybridRetriever
from rag.types import ScoredChunk
from tests.retrieve.small_index import empty_index

Factory = Callable[[IndexData, Embedder, Settings], Retriever]

def _over_store(kind: str) -> Factory:
    """rag.stores.retriever.StoreRetriever over a store of ``kind`` holding the same chunks."""

    def build(index: IndexData, embedder: Embedder, settings: Settings) -> Retriever:
        from rag.stores.retriever import StoreRetriever
        from tests.stores.stores_support import store_from_index

        return StoreRetriever(store_from_index(kind, index), embedder, settings)

    return build


RETRIEVERS: dict[str, Factory] = {
    "store-embedded": _over_store("embedded"),
    "store-milvus": _over_store("milvus"),
    "hybrid-weighted": lambda index, embedder, settings: HybridRetriever(
        index, embedder, settings.model_copy(update={"fusion": "weighted"})),
    "hybrid-rrf": lambda index, embedder, settings: HybridRetriever(
        index, embedder, settings.model_copy(update={"fusion": "rrf"})),
}
METHODS = ["hybrid", "dense", "bm25"]
FEE = "黑石BXPE基金的管理费是多少"
FEE_TITLE = "美国大型PE调降管理费破解募资难困局"


@pytest.fixture(params=sorted(RETRIEVERS))
def make(request, hash_embedder, small_config) -> Callable[[IndexData], Retriever]:
    return lambda index: RETRIEVERS[request.param](index, hash_embedder, small_config)


@pytest.fixture
def retriever(make, small_index) -> Retriever:
    built = make(small_index)
    built.warm_up()
    return built


def _ids(result: RetrievalResult) -> list[str]:
    return [r.chunk.chunk_id for r in result.results]


def test_is_a_retriever(retriever):
    assert isinstance(retriever, Retriever)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("k", [1, 3, 6])
def test_returns_k_passages_best_first(retriever, small_index, method, k):
    result = retriever.search("金融机构和金融科技", k=k, method=method)
    assert isinstance(result, RetrievalResult) and result.query == "金融机构和金融科技"
    # BM25 returns only chunks sharing a query term; dense and hybrid rank every chunk
    assert len(result.results) == k if method != "bm25" else 1 <= len(result.results) <= k
    assert all(isinstance(r, ScoredChunk) and r.chunk.chunk_id in small_index.by_id for r in result.results)
    scores = [r.score for r in result.results]
    assert scores == sorted(scores, reverse=True)
    assert len(set(_ids(result))) == len(result.results)


def test_default_k_is_the_configured_top_k(retriever, small_config):
    assert len(retriever.search("金融机构和金融科技").results) == small_config.top_k


@pytest.mark.parametrize("method", METHODS)
def test_finds_the_article_that_answers(retriever, method):
    result = retriever.search(FEE, k=3, method=method)
    assert result.results[0].chunk.title == FEE_TITLE
    assert "1.25%" in result.results[0].chunk.text


def test_method_decides_which_scores_are_filled(retriever):
    for item in retriever.search(FEE, k=5, method="dense").results:
        assert item.dense_score is not None and item.bm25_score is None
    for item in retriever.search(FEE, k=5, method="bm25").results:
        assert item.bm25_score is not None and item.dense_score is None and item.bm25_score > 0
    hybrid = retriever.search(FEE, k=5).results
    assert all(r.dense_score is not None or r.bm25_score is not None for r in hybrid)
    assert hybrid[0].dense_score is not None and hybrid[0].bm25_score is not None


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize(
    ("filters", "holds"),
    [
        (SearchFilters(files=["city.txt"]), lambda c: c.file == "city.txt"),
        (SearchFilters(sections=["AI", "理论"]), lambda c: c.section in ("AI", "理论")),
        (SearchFilters(title_contains="金融街"), lambda c: "金融街" in c.title),
        (SearchFilters(files=["finance.txt"], sections=["金融"]), lambda c: c.section == "金融"),
    ],
)
def test_every_result_matches_the_filters(retriever, method, filters, holds):
    result = retriever.search("金融机构的管理费与城市数据", k=5, filters=filters, method=method)
    assert result.results
    assert all(holds(r.chunk) for r in result.results)


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("filters", [SearchFilters(files=["no-such-file.txt"]), SearchFilters(sections=["没有这个栏目"]),
                                     SearchFilters(files=["city.txt"], sections=["AI"])])
def test_a_filter_matching_nothing_returns_nothing(retriever, method, filters):
    result = retriever.search(FEE, k=5, filters=filters, method=method)
    assert result.results == []
    assert (result.confidence.dense, result.confidence.bm25, result.confidence.relevant) == (0.0, 0.0, False)


@pytest.mark.parametrize("method", METHODS)
def test_an_empty_index_returns_nothing(make, hash_embedder, tmp_path, method):
    result = make(empty_index(tmp_path, hash_embedder.dimension)).search(FEE, k=5, method=method)
    assert result.results == [] and result.confidence.relevant is False


def test_confidence_separates_known_terms_from_garbage(retriever):
    good = retriever.search(FEE).confidence
    garbage = retriever.search("zzqqxx").confidence
    assert good.bm25 > 0 and good.dense > garbage.dense
    assert garbage.bm25 == 0.0 and garbage.relevant is False


def test_results_never_overlap_within_an_article(retriever):
    results = retriever.search(FEE, k=8).results
    for a, b in combinations([r.chunk for r in results], 2):
        assert not (a.file == b.file and a.article_index == b.article_index and a.start < b.end and b.start < a.end)
    assert all(len(r.chunk.text) == r.chunk.end - r.chunk.start for r in results)


def test_search_is_deterministic(retriever):
    first, second = retriever.search(FEE, k=5), retriever.search(FEE, k=5)
    assert _ids(first) == _ids(second) and [r.score for r in first.results] == [r.score for r in second.results]


# ------------------------------------------------------------------ HybridRetriever's own extras
@pytest.mark.parametrize("method", METHODS)
def test_precomputed_query_tokens_rank_like_the_query(small_retriever, method):
    own = small_retriever.search(FEE, k=5, method=method)
    given = small_retriever.search(FEE, k=5, method=method, query_tokens=tokenize(FEE))
    assert _ids(given) == _ids(own) and [r.score for r in given.results] == [r.score for r in own.results]
    assert given.confidence == own.confidence


def test_query_tokens_are_what_bm25_reads(small_retriever):
    other = "崂山区城市云脑汇集了多少条数据"
    swapped = small_retriever.search(FEE, k=3, method="bm25", query_tokens=tokenize(other))
    assert _ids(swapped) == _ids(small_retriever.search(other, k=3, method="bm25"))
    assert small_retriever.search(FEE, k=3, method="bm25", query_tokens=[]).results == []


def test_compound_search_with_per_part_tokens(small_retriever):
    question = "BXPE基金的管理费是多少？崂山区城市云脑汇集了多少条数据？"
    parts = ["BXPE基金的管理费是多少", "崂山区城市云脑汇集了多少条数据"]
    plain = small_retriever.search_compound(question, parts, k=4)
    given = small_retriever.search_compound(question, parts, k=4, query_tokens=[tokenize(p) for p in parts],
                                            whole_tokens=tokenize(question))
    assert _ids(given) == _ids(plain) and given.confidence == plain.confidence
    titles = {r.chunk.title for r in plain.results}
    assert {FEE_TITLE, "崂山区城市云脑汇集十六亿条数据"} <= titles  # each part found its article
    single = small_retriever.search_compound(FEE, [FEE], k=3, query_tokens=[tokenize(FEE)])
    assert _ids(single) == _ids(small_retriever.search(FEE, k=3))
    with pytest.raises(ValueError):
        small_retriever.search_compound(question, parts, query_tokens=[tokenize(question)])


def test_idf_belongs_to_the_searched_index(small_retriever, small_index):
    idf = small_retriever.idf
    assert idf.n == len(small_index.chunks)
    assert idf.df.get("管理费", 0) == sum("管理费" in tokens for tokens in small_index.tokens) > 0
    assert idf.idf("云脑") > idf.idf("金融")
