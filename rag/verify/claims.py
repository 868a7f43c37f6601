"""Which sentences of an answer are claims: the ones a citation must vouch for.

The checker (:mod:`rag.verify.citations`) and the citation metrics
(:mod:`rag.evaluation`) only demand support for a claim. Connectives ("综上所述。"),
headings and refusals ("资料中没有提及…") state nothing a passage could back, so they
are neither cited nor counted as unsupported. The phrase lists are data:
``rag/wordlists/refusal_phrases.txt`` and ``rag/wordlists/connectives.txt``.
"""

from __future__ import annotations

from rag.text.markers import strip_markers
from rag.text.normalize import content_chars, fold
from rag.text.sentences import TERMINATORS
from rag.wordlists import load, load_set

MIN_CLAIM_CHARS = 6
"""Sentences with fewer content characters are connectives/headings, not claims."""

_REFUSAL_PHRASES = load("refusal_phrases")
_CONNECTIVES = load_set("connectives")
_TRAILING = "".join(TERMINATORS) + " "


def is_refusal(text: str) -> bool:
    """True when the sentence says the context does not answer the question."""
    s = fold(text)
    return any(p in s for p in _REFUSAL_PHRASES)


def is_claim(sentence: str) -> bool:
    """True for a sentence that states something checkable.

    Not claims: short connectives ("综上所述。"), headings ("## 背景", "一、背景",
    lines ending with a colon) and refusals ("资料中没有提及…").
    """
    s = strip_markers(sentence).strip()
    if not s or s.startswith("#") or s.rstrip(_TRAILING).endswith((":", "：")):
        return False
    c = content_chars(s)
    if len(c) < MIN_CLAIM_CHARS or c in _CONNECTIVES:
        return False
    return not is_refusal(s)
