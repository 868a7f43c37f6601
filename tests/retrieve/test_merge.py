"""Folding overlapping passages of one article (hand-made chunks)."""

from __future__ import annotations

from rag.retrieve.merge import merge_overlapping, overlaps, union
from rag.types import Chunk, ScoredChunk


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


def test_overlaps_and_union_use_article_offsets():
    article = "".join(f"第{i}句。" for i in range(100))
    a, b = _chunk("a", 10, 60, article), _chunk("b", 40, 90, article)
    assert overlaps(a, b) and overlaps(b, a)
    assert not overlaps(a, _chunk("c", 60, 90, article))  # touching is not overlapping
    assert not overlaps(a, _chunk("d", 40, 90, article, file="g.txt"))
    joined = union(b, a)
    assert (joined.chunk_id, joined.start, joined.end, joined.text) == ("b", 10, 90, article[10:90])
    inner = union(a, _chunk("e", 20, 30, article))  # a passage inside another adds nothing
    assert (inner.start, inner.end, inner.text) == (10, 60, article[10:60])
