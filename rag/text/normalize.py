"""The one normaliser: how texts are made comparable across width, case, spacing and markers.

Three strengths, each for one kind of comparison:

* :func:`fold` - NFKC and lower case: full-width ``２０２３`` and ``ＧＤＰ`` read as
  ``2023`` and ``gdp``. What tokenising and term matching see.
* :func:`compact` - :func:`fold` without whitespace or citation markers: for
  "does this answer contain that string" (key facts, evidence quotes, terms).
* :func:`content_chars` - only letters, digits, decimal points and ``%``, thousands
  separators dropped ("3,480" = "3480"): for character n-gram overlap, where
  punctuation would only add noise.
"""

from __future__ import annotations

import re
import unicodedata

from rag.text.markers import MARKER_RE

_SPACE = re.compile(r"\s+")
_THOUSANDS = re.compile(r"(?<=\d),(?=\d{3})")
_NON_WORD = re.compile(r"\W")


def fold(text: str) -> str:
    """NFKC, lower case."""
    return unicodedata.normalize("NFKC", text or "").lower()


def compact(text: str) -> str:
    """:func:`fold` with citation markers and all whitespace removed."""
    return _SPACE.sub("", MARKER_RE.sub("", fold(text)))


def word_chars(text: str) -> str:
    """NFKC with every non-word character (punctuation, space) removed, case kept."""
    return _NON_WORD.sub("", unicodedata.normalize("NFKC", text or ""))


def content_chars(text: str) -> str:
    """Comparable form for n-gram overlap: NFKC, lower case, no markers, whitespace or
    punctuation; a decimal point between digits and ``%`` are kept."""
    s = unicodedata.normalize("NFKC", text)
    s = MARKER_RE.sub("", s).lower()
    s = _THOUSANDS.sub("", s)
    out: list[str] = []
    for i, ch in enumerate(s):
        if ch.isalnum() or ch == "%":
            out.append(ch)
        elif ch == "." and 0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit():
            out.append(ch)
    return "".join(out)


def char_ngrams(text: str, n: int) -> set[str]:
    """The distinct character n-grams of ``text``."""
    return {text[i : i + n] for i in range(len(text) - n + 1)}
