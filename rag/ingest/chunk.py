"""Sentence-aware chunking of Chinese articles.

Chunks are built from whole sentences (as cut by :mod:`rag.text.sentences`, the splitter
every other step uses too) up to a target size, with whole sentences of overlap; a
sentence is only cut when it alone exceeds the maximum size, and then at a comma if possible.

Tables (rag.ingest.tables) are chunked apart: their chunks hold the cells as
self-describing sentences, whole rows together, with the original rows kept as
``display_text``. Everything else is chunked exactly as without them: the sentence
groups are the same, only the table's sentences are taken out of the groups they fall in.
"""

from __future__ import annotations

import hashlib
import re

from collections.abc import Sequence

from rag.ingest.tables import Table, TableRow
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


def _sentence_groups(text: str, size: int, overlap: int, max_size: int) -> list[list[tuple[int, int]]]:
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
    return groups


def _make_chunk(article: Article, start: int, end: int, body: str, display_text: str = "") -> Chunk:
    return Chunk(
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
        display_text=display_text,
    )


def chunk_article(
    article: Article, size: int = 400, overlap: int = 80, max_size: int = 600, tables: Sequence[Table] = ()
) -> list[Chunk]:
    """Pack whole sentences into chunks of about `size` characters, never over `max_size`;
    the regions of ``tables`` (found in ``article.text``) become table chunks."""
    if max_size < size:
        max_size = size
    text = article.text
    groups = _sentence_groups(text, size, overlap, max_size)
    regions = sorted((t.start, t.end) for t in tables)

    def in_table(span: tuple[int, int]) -> bool:
        return any(span[0] < end and start < span[1] for start, end in regions)

    # Runs of a group's sentences outside every table: a group no table touches is one run.
    runs: list[list[tuple[int, int]]] = []
    for group in groups:
        run: list[tuple[int, int]] = []
        for sent in group:
            if in_table(sent):
                if run:
                    runs.append(run)
                run = []
            else:
                run.append(sent)
        if run:
            runs.append(run)
    spans = list(dict.fromkeys((run[0][0], run[-1][1]) for run in runs))
    if regions:
        # A group cut by a table leaves pieces; one inside a neighbouring chunk adds nothing.
        spans = [s for s in spans if not any(o != s and o[0] <= s[0] and s[1] <= o[1] for o in spans)]

    chunks = [_make_chunk(article, start, end, text[start:end]) for start, end in spans]
    for table in tables:
        chunks.extend(_table_chunks(article, table, size, max_size))
    chunks.sort(key=lambda c: (c.start, c.end))
    return chunks


def _table_chunks(article: Article, table: Table, size: int, max_size: int) -> list[Chunk]:
    """Whole rows of cell sentences per chunk, up to ``size`` characters (a row longer than
    ``max_size`` is split between its cells). Chunks of one table never overlap, so
    merging overlapping passages (rag.retrieve.merge) never splices two of them by offsets."""
    text = article.text
    head = text[table.start : table.body_start]
    # Units: (start, end, sentences); a row's span covers its label and values.
    units: list[tuple[int, int, list[str]]] = []
    for row in table.rows:
        units.extend(_row_units(table, row, max_size))
    if not units:
        return []
    notes = table.note_sentences()
    groups: list[list[tuple[int, int, list[str]]]] = [[]]
    for unit in units:
        current = groups[-1]
        length = sum(len(s) + 1 for u in current for s in u[2]) + sum(len(s) + 1 for s in unit[2])
        if current and length > size:
            groups.append([])
        groups[-1].append(unit)
    chunks = []
    for n, group in enumerate(groups):
        first, last = n == 0, n == len(groups) - 1
        start = table.start if first else group[0][0]
        end = table.end if last else group[-1][1]
        lines = [s for unit in group for s in unit[2]] + (notes if last else [])
        # The original rows, under the caption and header when the chunk does not start with them.
        display = text[start:end] if first else f"{head}{text[start:end]}"
        chunks.append(_make_chunk(article, start, end, "\n".join(lines), display.strip()))
    return chunks


def _row_units(table: Table, row: TableRow, max_size: int) -> list[tuple[int, int, list[str]]]:
    sentences = table.row_sentences(row)
    if not sentences:
        return []
    if sum(len(s) + 1 for s in sentences) <= max_size:
        return [(row.start, row.end, sentences)]
    # A very wide row: pieces of cells, each spanning its own values (the first one the label too).
    units: list[tuple[int, int, list[str]]] = []
    piece: list[int] = []
    for i, sentence in enumerate(sentences):
        if piece and sum(len(sentences[j]) + 1 for j in piece) + len(sentence) + 1 > max_size:
            units.append(_cells_unit(row, piece, sentences))
            piece = []
        piece.append(i)
    units.append(_cells_unit(row, piece, sentences))
    return units


def _cells_unit(row: TableRow, indices: list[int], sentences: list[str]) -> tuple[int, int, list[str]]:
    start = row.start if indices[0] == 0 else row.cells[indices[0]].start
    return start, row.cells[indices[-1]].end, [sentences[i] for i in indices]
