"""Hybrid retrieval: fusion on hand-made lists, then dense/BM25/hybrid search on the real index."""

from __future__ import annotations

import importlib.util
from itertools import combinations

import pytest

from rag.retrieve.base import RetrievalResult, SearchFilters
from rag.retrieve.fusion import reciprocal_rank_fusion, weighted_fusion
from rag.retrieve.hybrid import HybridRetriever, merge_overlapping
from rag.types import Chunk, ScoredChunk

IN_CORPUS = "黑石BXPE基金管理费"
OFF_TOPIC = "今天天气怎么样适合去哪里野餐"
GARBAGE = "zzqqxx"


# ------------------------------------------------------------------ fusion on hand-made lists
DENSE = {1: 0.91, 2: 0.88, 3: 0.86, 5: 0.80}
BM25 = {2: 14.0, 4: 12.5, 1: 3.0, 6: 2.0}


def _best(fused: dict[int, float]) -> int:
    return max(fused, key=fused.get)


def test_rrf_prefers_a_document_strong_in_both_lists():
    fused = reciprocal_rank_fusion([DENSE, BM25], k=60)
    assert set(fused) == set(DENSE) | set(BM25)
    assert _best(fused) == 2  # 2nd in dense, 1st in BM25 beats 1st in dense, 3rd in BM25
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[4] == pytest.approx(1 / 62)
    # a document in both lists beats any document found by one list only
    assert min(fused[1], fused[2]) > max(fused[r] for r in (3, 4, 5, 6))


def test_weighted_prefers_a_document_strong_in_both_lists():
    fused = weighted_fusion(DENSE, BM25, dense_weight=0.5)
    assert set(fused) == set(DENSE) | set(BM25)
    assert _best(fused) == 2
    assert all(0.0 <= v <= 1.0 for v in fused.values())
    # 2 is max-normalised to 1 in BM25 and high in dense
    assert fused[2] == pytest.approx(0.5 * (0.88 - 0.80) / (0.91 - 0.80) + 0.5 * 1.0)


def test_weighted_extremes_follow_one_list():
    only_dense = weighted_fusion(DENSE, BM25, dense_weight=1.0)
    assert sorted(DENSE, key=lambda r: -DENSE[r]) == sorted(DENSE, key=lambda r: -only_dense[r])
    assert all(only_dense[r] == 0.0 for r in set(BM25) - set(DENSE))
    only_bm25 = weighted_fusion(DENSE, BM25, dense_weight=0.0)
    assert _best(only_bm25) == 2
    assert all(only_bm25[r] == 0.0 for r in set(DENSE) - set(BM25))


@pytest.mark.parametrize("scale,shift", [(100.0, 0.0), (0.01, 5.0), (3.0, -2.0)])
def test_fusion_is_scale_invariant(scale: float, shift: float):
    bm25_rescaled = {row: score * scale + shift for row, score in BM25.items()}
    dense_rescaled = {row: score * scale + shift for row, score in DENSE.items()}
    assert reciprocal_rank_fusion([DENSE, bm25_rescaled]) == reciprocal_rank_fusion([DENSE, BM25])
    base = weighted_fusion(DENSE, BM25, 0.4)
    for fused in (weighted_fusion(DENSE, bm25_rescaled, 0.4), weighted_fusion(dense_rescaled, BM25, 0.4)):
        assert fused.keys() == base.keys()
        for row in base:
            assert fused[row] == pytest.approx(base[row])


def test_fusion_of_empty_lists():
    assert reciprocal_rank_fusion([{}, {}]) == {}
    assert weighted_fusion({}, {}) == {}
    assert weighted_fusion(DENSE, {}, 0.5) == pytest.approx(
        {r: 0.5 * (s - 0.80) / (0.91 - 0.80) for r, s in DENSE.items()})


# ------------------------------------------------------------------ merge_overlapping unit test
def _chunk(cid: str, start: int, end: int, text_source: str, article: int = 0, file: str = "f.txt") -> Chunk:
    return Chunk(chunk_id=cid, file=file, article_index=article, title="t", section="s", byline="", source="",
                 text=text_source[start:end], start=start, end=end)


def test_merge_overlapping_unions_passages_of_one_article():
    article = "".join(f"第{i}句。" for i in range(100))
    a, b = _chunk("a", 10, 60, article), _chunk("b", 40, 90, article)
    c = _chunk("c", 40, 90, article, article=1)  # other article: never merged
    ranked = [ScoredChunk(a, 0.9, dense_score=0.8), ScoredChunk(c, 0.7), ScoredChunk(b, 0.5, bm25_score=7.0)]
    merged = merge_overlapping(ranked, max_chars=1000)
    assert [m.chunk.chunk_id for m in merged] == ["a", "c"]
    assert merged[0].chunk.text == article[10:90]
    assert (merged[0].chunk.start, merged[0].chunk.end) == (10, 90)
    assert merged[0].extra["merged_ids"] == ["b"]
    assert (merged[0].dense_score, merged[0].bm25_score, merged[0].score) == (0.8, 7.0, 0.9)
    # a merge that would exceed max_chars is not done: the weaker passage is dropped, never duplicated
    kept = merge_overlapping([ScoredChunk(_chunk("a", 10, 60, article), 1.0),
                              ScoredChunk(_chunk("b", 40, 90, article), 0.5)], max_chars=70)
    assert [k.chunk.chunk_id for k in kept] == ["a"]
    assert kept[0].chunk.text == article[10:60]
    assert kept[0].extra["dropped_ids"] == ["b"]


def test_merge_never_grows_into_another_kept_passage():
    article = "".join(f"第{i}句。" for i in range(100))
    a, c, b = _chunk("a", 0, 40, article), _chunk("c", 60, 100, article), _chunk("b", 30, 70, article)
    # b overlaps both a and c: merging it into a would make a overlap c, so b is dropped
    kept = merge_overlapping([ScoredChunk(a, 0.9), ScoredChunk(c, 0.8), ScoredChunk(b, 0.7)], max_chars=1000)
    assert [k.chunk.chunk_id for k in kept] == ["a", "c"]
    assert kept[0].extra["dropped_ids"] == ["b"]
    assert (kept[0].chunk.start, kept[0].chunk.end, kept[1].chunk.start) == (0, 40, 60)


# ------------------------------------------------------------------ the real index
@pytest.fixture(scope="module")
def retriever(index_dir, settings) -> HybridRetriever:
    from rag.embed.sentence_transformer import embedder_from_settings
    from rag.index.store import load_index

    return HybridRetriever(load_index(index_dir), embedder_from_settings(settings), settings)


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
    import faiss

    from rag.index.store import IndexData, Manifest

    empty = IndexData(tmp_path, Manifest(embedder="x", dimension=retriever.embedder.dimension, chunking={}), [], [],
                      faiss.IndexFlatIP(retriever.embedder.dimension))
    result = HybridRetriever(empty, retriever.embedder, settings).search(IN_CORPUS)
    assert result.results == [] and result.confidence.relevant is False


# ------------------------------------------------------------------ LangChain adapter
def test_langchain_retriever(retriever):
    if importlib.util.find_spec("rag.retrieve.langchain") is None:
        pytest.skip("rag/retrieve/langchain.py is not written yet")
    from langchain_core.documents import Document

    from rag.retrieve.langchain import HybridLangChainRetriever

    lc = HybridLangChainRetriever(retriever=retriever, k=3)
    docs = lc.invoke(IN_CORPUS)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert "1.25%" in top.page_content
    assert top.metadata["file"].startswith("000")
    assert top.id == top.metadata["chunk_id"]
    for key in ("file", "title", "section", "chunk_id", "article_index", "start", "end", "score", "dense_score",
                "bm25_score"):
        assert key in top.metadata
    assert "text" not in top.metadata
    direct = retriever.search(IN_CORPUS, k=3)
    assert [d.metadata["chunk_id"] for d in docs] == [r.chunk.chunk_id for r in direct.results]
    assert [d.metadata["score"] for d in docs] == pytest.approx([r.score for r in direct.results])

    name = _file(retriever, "003")
    filtered = HybridLangChainRetriever(retriever=retriever, k=2, filters=SearchFilters(files=[name])).invoke(IN_CORPUS)
    assert filtered and len(filtered) <= 2
    assert all(d.metadata["file"] == name for d in filtered)
