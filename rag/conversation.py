"""Follow-up questions: turning "那它的管理费呢？" into a question that stands alone.

With an LLM the follow-up is rewritten by the model; without one (or when it fails),
a follow-up that cannot stand alone borrows the previous question's topic.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from rag.errors import LLMUnavailableError
from rag.index.tokenize import tokenize
from rag.query import QUESTION_WORDS

log = logging.getLogger(__name__)

# Follow-ups that lean on the previous turn: pronoun-led ("那它的…", "还有…"),
_PRONOUNS = re.compile(r"^(那|那么|它|他|她|其|该|这|此|还有|另外)|[它他她其]们?的|这(个|家|只|些)|那(个|家|只|些)")
# or an elliptical "…呢？" that asks nothing of its own ("管理费呢？", "今年呢？").
_ELLIPSIS = re.compile(r"呢\W*$")
_ASKS = re.compile(r"什么|多少|哪|谁|几|怎|如何|为何|是否|吗")

Rewriter = Callable[[str, list[dict[str, str]]], str]


def clean_history(history: list[Any] | None) -> list[dict[str, str]]:
    """The usable turns of a client's history: dicts with some content."""
    return [m for m in (history or []) if isinstance(m, dict) and m.get("content")]


def leans_on_previous(question: str, known: Callable[[str], bool]) -> bool:
    """True when a question cannot stand alone and should borrow the previous question's topic:
    it is pronoun- or ellipsis-led, or names no topic the index knows (only question words).

    ``known(term)`` tells whether the index holds a term.
    """
    if _PRONOUNS.search(question) or (_ELLIPSIS.search(question) and not _ASKS.search(question)):
        return True
    terms = [t for t in tokenize(question) if t not in QUESTION_WORDS]
    return not any(known(t) for t in terms)


def standalone_question(
    question: str, history: list[dict[str, str]], known: Callable[[str], bool], rewrite: Rewriter | None = None
) -> str:
    """The follow-up as a standalone question: rewritten by ``rewrite`` (the LLM) when
    given and reachable, else with the previous question's topic borrowed if it needs it."""
    if rewrite is not None:
        try:
            return rewrite(question, history)
        except LLMUnavailableError as exc:
            log.warning("condensing with the LLM failed (%s)", exc.reason)
    last_user = next((m["content"] for m in reversed(history) if m.get("role") == "user"), "")
    if last_user and leans_on_previous(question, known):
        return f"{last_user} {question}"
    return question
