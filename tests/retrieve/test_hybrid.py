"""Hybrid retrieval on the real index (the bundled corpus, the real e5 model)."""

from __future__ import annotations

from itertools import combinations

import pytest

from rag.index.tokenize import tokenize
from rag.retrieve.base import RetrievalResult, SearchFilters
from rag.retrieve.hybrid import HybridRetriever
from rag.types import ScoredChunk
from tests.retrieve.small_index import empty_index

IN_CORPUS = "黑石BXPE基金管理费"
OFF_TOPIC = "今天天气怎么样适合去哪里野餐"
GARBAGE = "zzqqxx"


@pytest.fixture(scope="module")
def retriever(real_retriever) -> HybridRetriever:
    return real_retriever


@pytest.fixture(scope="module")
def rrf_retriever(retriever: HybridRetriever, settings) -> HybridRetriever:
    return HybridRetriever(retriever.index, retriever.embedder, settings.model_copy(update={"fusion": "rrf"}))


def _file(retriever: HybridRetriever, prefix: str) -> str:
    return next(name for name in retriever.index.manifest.files if name.startswith(prefix))


def _assert_no_overlap(results: list[ScoredChunk]) -> None:
    for x, y in combinations(results, 2):
        a, b = x.chunk, y.chunk
        same_article = a.file == b.file and a.article_index == b.article_index
        assert not (same_article and a.start < b.end and b.start < a.end), (a.chunk_id, b.chunk_id)


@pytest.mark.parametrize("fusion", ["weighted", "rrf"])
@pytest.mark.parametrize(
    ("query", "prefix", "needle"),
    [
        (IN_CORPUS, "000", "1.25%"),
        ("崂山区城市云脑汇集了多少条数据", "003", "16亿"),
        ("北京金融街集聚了多少家金融机构", "000", "金融街"),
    ],
)
def test_question_finds_its_passage_at_rank_one(retriever, rrf_retriever, fusion, query, prefix, needle):
    r = retriever if fusion == "weighted" else rrf_retriever
    result = r.search(query, k=5)
    top = result.results[0]
    assert top.chunk.file == _file(r, prefix)
    assert needle in top.chunk.text or needle in top.chunk.title
    assert top.dense_score is not None and top.bm25_score is not None
    assert result.confidence.relevant


def test_bxpe_passage_holds_the_fee_sentence(retriever):
    top = retriever.search(IN_CORPUS, k=3).results[0]
    assert "黑石BXPE将收取1.25%的管理费" in top.chunk.text
    assert top.chunk.title == "美国大型PE调降管理费破解募资难困局任重道远"
    assert top.chunk.section == "创业投资"


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
def test_methods_fill_their_scores(retriever, method):
    result = retriever.search(IN_CORPUS, k=5, method=method, merge=False)
    assert len(result.results) == 5
    scores = [r.score for r in result.results]
    assert scores == sorted(scores, reverse=True)
    for item in result.results:
        if method == "dense":
            assert item.dense_score is not None and item.bm25_score is None
            assert item.score == pytest.approx(item.dense_score)
            assert -1.0 <= item.dense_score <= 1.0
        elif method == "bm25":
            assert item.bm25_score is not None and item.dense_score is None
            assert item.score == pytest.approx(item.bm25_score) and item.bm25_score > 0
        else:
            assert item.dense_score is not None or item.bm25_score is not None
            assert 0.0 <= item.score <= 1.0
    if method == "dense":
        assert result.confidence.bm25 == 0.0 and result.confidence.dense == pytest.approx(scores[0])
    if method == "bm25":
        assert result.confidence.dense == 0.0 and result.confidence.bm25 == pytest.approx(scores[0])


def test_k_limits_results(retriever):
    assert len(retriever.search(IN_CORPUS, k=1).results) == 1
    assert len(retriever.search(IN_CORPUS, k=8, merge=False).results) == 8


def test_filter_by_file(retriever):
    name = _file(retriever, "004")
    result = retriever.search(IN_CORPUS, k=5, filters=SearchFilters(files=[name]))
    assert result.results
    assert all(r.chunk.file == name for r in result.results)
    assert not any("1.25%" in r.chunk.text for r in result.results)


def test_filter_by_section(retriever):
    result = retriever.search("人工智能大模型", k=6, filters=SearchFilters(sections=["金融", "理论"]))
    assert result.results
    assert all(r.chunk.section in ("金融", "理论") for r in result.results)
    assert {r.chunk.section for r in retriever.search("人工智能大模型", k=6).results} - {"金融", "理论"}


def test_filter_by_title(retriever):
    result = retriever.search("管理费", k=5, filters=SearchFilters(title_contains="金融街"))
    assert result.results
    assert all("金融街" in r.chunk.title for r in result.results)


@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
@pytest.mark.parametrize(
    "filters",
    [SearchFilters(files=["no-such-file.txt"]), SearchFilters(sections=["没有这个栏目"]),
     SearchFilters(title_contains="绝对不存在的标题"), SearchFilters(files=["000_ded5f9605ad5baf4.txt"], sections=["AI"],
                                                                     title_contains="金融街")],
)
def test_filter_matching_nothing_returns_nothing(retriever, method, filters):
    result = retriever.search(IN_CORPUS, k=5, filters=filters, method=method)
    assert result.results == []
    assert result.confidence.dense == 0.0 and result.confidence.bm25 == 0.0
    assert result.confidence.relevant is False


@pytest.mark.parametrize("query", [IN_CORPUS, "北京金融街集聚了多少家金融机构", "人工智能大模型", OFF_TOPIC])
def test_results_never_overlap_within_an_article(retriever, query):
    unmerged = retriever.search(query, k=10, merge=False).results
    merged = retriever.search(query, k=10).results
    assert merged
    _assert_no_overlap(merged)
    for item in merged:
        c = item.chunk
        assert len(c.text) == c.end - c.start  # merged text still matches its offsets
    # the unmerged list for this query does contain overlapping neighbours, so merging did something
    if query == IN_CORPUS:
        with pytest.raises(AssertionError):
            _assert_no_overlap(unmerged)
        assert any(r.extra.get("merged_ids") for r in merged)


def test_merged_text_matches_article_offsets(retriever):
    # Chunks of one article share the article text: a merged passage is a slice of their union.
    for item in retriever.search(IN_CORPUS, k=5).results:
        if not item.extra.get("merged_ids"):
            continue
        parts = []
        for cid in [item.chunk.chunk_id, *item.extra["merged_ids"]]:
            parts.append(retriever.index.chunks[retriever.index.by_id[cid]])
        for part in parts:
            assert item.chunk.start <= part.start and part.end <= item.chunk.end
            assert item.chunk.text[part.start - item.chunk.start : part.end - item.chunk.start] == part.text


def test_confidence_separates_in_corpus_from_off_topic(retriever):
    good = retriever.search(IN_CORPUS).confidence
    off = retriever.search(OFF_TOPIC).confidence
    garbage = retriever.search(GARBAGE).confidence
    assert good.dense > off.dense
    assert good.bm25 > off.bm25
    assert good.relevant is True
    assert garbage.bm25 == 0.0  # no query token is in the BM25 vocabulary
    assert garbage.relevant is False
    assert good.to_dict().keys() == {"dense", "bm25", "relevant"}


def test_to_public_shape(retriever):
    result = retriever.search(IN_CORPUS, k=3)
    assert isinstance(result, RetrievalResult)
    public = result.to_public()
    assert set(public) == {"query", "results"}
    assert public["query"] == IN_CORPUS
    assert len(public["results"]) == 3
    for item, scored in zip(public["results"], result.results):
        assert set(item) == {"text", "file", "title", "section", "score", "chunk_id"}
        assert item["chunk_id"] == scored.chunk.chunk_id and item["text"] == scored.chunk.text
        assert isinstance(item["score"], float)
    import json

    json.dumps(public, ensure_ascii=False)  # serialisable as is


def test_empty_index_returns_nothing(settings, retriever, tmp_path):
    empty = empty_index(tmp_path, retriever.embedder.dimension)
    result = HybridRetriever(empty, retriever.embedder, settings).search(IN_CORPUS)
    assert result.results == [] and result.confidence.relevant is False


@pytest.mark.parametrize("query", [IN_CORPUS, OFF_TOPIC, GARBAGE, "北京金融街集聚了多少家金融机构"])
@pytest.mark.parametrize("method", ["dense", "bm25", "hybrid"])
def test_precomputed_query_tokens_rank_exactly_like_the_query(retriever, query, method):
    own = retriever.search(query, k=8, method=method)
    given = retriever.search(query, k=8, method=method, query_tokens=tokenize(query))
    assert [(r.chunk.chunk_id, r.chunk.text, r.score, r.dense_score, r.bm25_score) for r in given.results] == [
        (r.chunk.chunk_id, r.chunk.text, r.score, r.dense_score, r.bm25_score) for r in own.results]
    assert given.confidence == own.confidence


def test_compound_question_finds_both_articles(retriever):
    question = "BXPE基金的管理费是多少？崂山区城市云脑汇集了多少条数据？"
    parts = ["BXPE基金的管理费是多少", "崂山区城市云脑汇集了多少条数据"]
    result = retriever.search_compound(question, parts, k=5)
    files = {r.chunk.file for r in result.results}
    assert {_file(retriever, "000"), _file(retriever, "003")} <= files
    given = retriever.search_compound(question, parts, k=5, query_tokens=[tokenize(p) for p in parts],
                                      whole_tokens=tokenize(question))
    assert [r.chunk.chunk_id for r in given.results] == [r.chunk.chunk_id for r in result.results]
    _assert_no_overlap(result.results)
