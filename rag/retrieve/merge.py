"""Folding overlapping passages of one article into one, so results never repeat text.

Chunks overlap by design (80 characters of carried sentences), so neighbouring chunks
often both rank; showing both would repeat text and waste the model's context.
"""

from __future__ import annotations

from dataclasses import replace

from rag.types import Chunk, ScoredChunk


def overlaps(a: Chunk, b: Chunk) -> bool:
    """True when two passages share characters of the same article."""
    return a.file == b.file and a.article_index == b.article_index and a.start < b.end and b.start < a.end


def union(a: Chunk, b: Chunk) -> Chunk:
    """Union of two overlapping passages of one article, using their offsets.

    The better-ranked passage ``a`` keeps its id and metadata.
    """
    first, second = (a, b) if a.start <= b.start else (b, a)
    text = first.text if second.end <= first.end else first.text + second.text[first.end - second.start :]
    return replace(a, text=text, start=first.start, end=max(first.end, second.end))


def merge_overlapping(ranked: list[ScoredChunk], max_chars: int = 1000) -> list[ScoredChunk]:
    """Fold passages that overlap in the same article into the best-ranked one.

    The result never holds two overlapping passages. An overlapping passage is merged
    into the better-ranked one (its id goes to ``extra["merged_ids"]``) when the union
    stays within max_chars and touches no other kept passage; otherwise it is dropped
    (``extra["dropped_ids"]``): the better-ranked passage already shows the shared text,
    and a cited passage should stay short enough to read and to send to the model.
    """
    merged: list[ScoredChunk] = []
    for item in ranked:
        overlapping = [kept for kept in merged if overlaps(kept.chunk, item.chunk)]
        if not overlapping:
            merged.append(item)
            continue
        best = overlapping[0]
        joined = union(best.chunk, item.chunk)
        fits = len(joined.text) <= max_chars
        clashes = any(overlaps(other.chunk, joined) for other in merged if other is not best)
        if fits and not clashes:
            best.chunk = joined
            if item.dense_score is not None:
                best.dense_score = max(best.dense_score or 0.0, item.dense_score)
            if item.bm25_score is not None:
                best.bm25_score = max(best.bm25_score or 0.0, item.bm25_score)
            best.extra.setdefault("merged_ids", []).append(item.chunk.chunk_id)
        else:
            best.extra.setdefault("dropped_ids", []).append(item.chunk.chunk_id)
    return merged
