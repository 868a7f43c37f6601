"""Which sentences of a cited passage to highlight: the ones that best support the
answer's claims citing it. The server computes them once, as character offsets, so
the UI and the widget only mark them."""

from __future__ import annotations

from rag.text.sentences import sentence_spans
from rag.types import Span
from rag.verify.support import support_score


def highlight_spans(passage: str, claims: list[str]) -> list[Span]:
    """(start, end) offsets into ``passage`` of the best-supporting sentence of each claim,
    in passage order; adjacent sentences are joined into one span (the text between
    them included)."""
    spans = sentence_spans(passage)
    best: list[int] = []
    for claim in claims:
        scored = sorted(range(len(spans)), key=lambda i: -support_score(claim, passage[spans[i][0] : spans[i][1]]))
        if scored and scored[0] not in best:
            best.append(scored[0])
    best.sort()
    runs: list[Span] = []
    for i, idx in enumerate(best):
        start, end = spans[idx]
        if i and best[i - 1] == idx - 1:
            runs[-1] = (runs[-1][0], end)  # adjacent: one run of text
        else:
            runs.append((start, end))
    return runs


def highlight_text(passage: str, runs: list[Span]) -> str | list[str]:
    """The highlighted text: one string for one run, else a list (the UI marks each)."""
    pieces = [passage[s:e] for s, e in runs]
    return pieces[0] if len(pieces) == 1 else pieces
