"""Which sentences of a cited passage to highlight: the ones that best support the
answer's claims citing it. The server computes them once, as character offsets, so
the UI and the widget only mark them."""

from __future__ import annotations

from rag.text.sentences import sentence_spans
from rag.types import Span
from rag.verify.support import SupportScorer


def highlight_spans(passage: str, claims: list[str]) -> list[Span]:
    """(start, end) offsets into ``passage`` of the best-supporting sentence of each claim,
    in passage order; adjacent sentences are joined into one span (the text between
    them included)."""
    spans = sentence_spans(passage)
    # The sentences' features are computed once for all claims (the first sentence wins a tie).
    scorer = SupportScorer([passage[s:e] for s, e in spans])
    best: list[int] = []
    for claim in claims:
        number, _ = scorer.best(claim)
        if number is not None and number - 1 not in best:
            best.append(number - 1)
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
