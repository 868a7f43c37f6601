"""Sentence-aware chunking of Chinese articles.

Chunks are built from whole sentences (as cut by :mod:`rag.text.sentences`, the splitter
every other step uses too) up to a target size, with whole sentences of overlap; a
sentence is only cut when it alone exceeds the maximum size, and then at a comma if possible.
"""

from __future__ import annotations

import hashlib
import re

from rag.text.sentences import sentence_spans
from rag.types import Article, Chunk

_SOFT_BREAK = re.compile(r"[，,、：:]")

def _split_long(start: int, end: int, text: str, max_size: int) -> list[tuple[int, int]]:
    """Cut an over-long sentence at commas (or hard, as a last resort) into ≤ max_size pieces."""
    pieces: list[tuple[int, int]] = []
    while end - start > max_size:
        window = text[start : start + max_size]
        breaks = [m.end() for m in _SOFT_BREAK.finditer(window)]
        cut = breaks[-1] if breaks and breaks[-1] > max_size // 2 else max_size
        pieces.append((start, start + cut))
        start += cut
    pieces.append((start, end))
    return pieces


def chunk_id(file: str, title: str, text: str) -> str:
    return hashlib.sha1(f"{file}\x1f{title}\x1f{text}".encode()).hexdigest()[:16]


def chunk_article(article: Article, size: int = 400, overlap: int = 80, max_size: int = 600) -> list[Chunk]:
    """Pack whole sentences into chunks of about `size` characters, never over `max_size`."""
    if max_size < size:
        max_size = size
    text = article.text
    sentences: list[tuple[int, int]] = []
    for start, end in sentence_spans(text):
        sentences.extend(_split_long(start, end, text, max_size) if end - start > max_size else [(start, end)])

    groups: list[list[tuple[int, int]]] = []
    current: list[tuple[int, int]] = []
    for sent in sentences:
        length = sent[1] - (current[0][0] if current else sent[0])
        if current and length > size and (length > max_size or current[-1][1] - current[0][0] >= size // 2):
            groups.append(current)
            # Carry whole trailing sentences as overlap, so a fact split across a
            # boundary is still found whole in one chunk.
            carried: list[tuple[int, int]] = []
            for prev in reversed(current):
                if sum(e - s for s, e in carried) + (prev[1] - prev[0]) > overlap:
                    break
                carried.insert(0, prev)
            if carried and sent[1] - carried[0][0] > max_size:
                carried = []
            current = carried
        current.append(sent)
    if current:
        groups.append(current)

    chunks: list[Chunk] = []
    for group in groups:
        start, end = group[0][0], group[-1][1]
        body = text[start:end]
        chunks.append(
            Chunk(
                chunk_id=chunk_id(article.file, article.title, f"{article.index}:{start}:{body}"),
                file=article.file,
                article_index=article.index,
                title=article.title,
                section=article.section,
                byline=article.byline,
                source=article.source,
                text=body,
                start=start,
                end=end,
                date=article.date,
            )
        )
    return chunks
