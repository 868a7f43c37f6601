"""The one sentence splitter: chunking, evidence selection, citation checking, highlights,
streaming and the UI all cut text with it, so a "sentence" means the same thing everywhere.

A sentence ends at a line break or after a terminator (。！？!?；;…), extended over
further terminators, closing quotes and brackets, and the citation markers written
right after it (with or without spaces), so both "举行[1]。" and "举行。[1]" stay one
sentence. Decimal points and list numbers ("1.", "2、") are not terminators. Spans
never include surrounding whitespace; the gaps between them are whitespace only.
"""

from __future__ import annotations

from rag.text.markers import marker_runs

TERMINATORS = frozenset("。！？!?；;…")
# Closing quotes and brackets that belong to the sentence they follow ("……。”").
CLOSERS = frozenset("”’」』）)》〉】\"'")
_INLINE_SPACE = frozenset(" \t\u3000")

Span = tuple[int, int]


def sentence_spans(text: str) -> list[Span]:
    """(start, end) character offsets of the sentences of ``text``."""
    runs = dict(marker_runs(text)) if "[" in text or "［" in text or "【" in text else {}
    spans: list[Span] = []
    start = i = 0
    n = len(text)

    def close(end: int) -> None:
        seg = text[start:end]
        left = len(seg) - len(seg.lstrip())
        right = len(seg.rstrip())
        if right > left:
            spans.append((start + left, start + right))

    while i < n:
        if i in runs:
            i = runs[i]
            continue
        ch = text[i]
        if ch in "\r\n":
            close(i)
            start = i = i + 1
            continue
        if ch in TERMINATORS:
            j = i + 1
            while j < n:
                if text[j] in TERMINATORS or text[j] in CLOSERS:
                    j += 1
                    continue
                k = j
                while k < n and text[k] in _INLINE_SPACE:
                    k += 1
                if k in runs:
                    j = runs[k]
                    continue
                break
            close(j)
            start = i = j
            continue
        i += 1
    close(n)
    return spans


def split_sentences(text: str) -> list[str]:
    """The sentences of ``text`` (see :func:`sentence_spans`)."""
    return [text[s:e] for s, e in sentence_spans(text)]


def sentence_pieces(text: str) -> list[str]:
    """``text`` cut after each sentence, whitespace kept, so the pieces join back to it
    exactly (for streaming an answer sentence by sentence)."""
    pieces: list[str] = []
    pos = 0
    for _, end in sentence_spans(text):
        pieces.append(text[pos:end])
        pos = end
    if pos < len(text):
        if pieces:
            pieces[-1] += text[pos:]
        else:
            pieces.append(text[pos:])
    return [p for p in pieces if p]


def ends_sentence(text: str) -> bool:
    """True when ``text`` ends with a terminator (closing quotes and brackets aside)."""
    body = text.rstrip("".join(CLOSERS))
    return bool(body) and body[-1] in TERMINATORS
