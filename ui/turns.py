"""One chat turn as the UI keeps it (in ``gr.State``): what was asked, what was shown.

The sources panel is re-rendered from these on every turn, the feedback log stores
them, and the last few become the history sent with a follow-up question. They are
also what the browser keeps across a page reload (``to_dict`` / ``from_dict``, JSON
in localStorage): the chat bubbles are re-rendered from them, never stored as HTML.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any

from rag.types import Answer, Citation, Passage

HISTORY_TURNS = 3  # earlier turns sent for follow-up questions; more only slows the condense step
SAVED_TURNS = 30  # turns the browser keeps across a reload (each holds its passages' text)


@dataclass
class Turn:
    question: str  # as the user typed it (stripped)
    answer: str = ""
    refused: bool = False
    mode: str | None = None  # the mode that answered (extractive after an LLM fallback)
    notice: str | None = None
    citations: list[Citation] = field(default_factory=list)
    related: list[Passage] = field(default_factory=list)
    retrieved: list[Passage] = field(default_factory=list)  # every passage retrieval found
    stopped: bool = False  # the user stopped the answer; ``answer`` is what had been written

    @classmethod
    def from_answer(cls, question: str, answer: Answer) -> Turn:
        return cls(
            question=question,
            answer=answer.answer,
            refused=answer.refused,
            mode=answer.mode,
            notice=answer.notice,
            citations=list(answer.citations),
            related=list(answer.related),
            retrieved=list(answer.retrieved),
        )

    @classmethod
    def failed(cls, question: str, mode: str) -> Turn:
        """A turn whose answering broke: kept so chat message indices and turns stay aligned."""
        return cls(question=question, refused=True, mode=mode)

    @classmethod
    def stopped_early(cls, question: str, partial: str, retrieved: list[Passage] | None = None) -> Turn:
        """A turn the user stopped: the unchecked text so far is shown, never used as a citation."""
        return cls(question=question, answer=partial, refused=True, stopped=True, retrieved=list(retrieved or []))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Turn:
        """The turn back from ``to_dict``'s JSON; raises TypeError/KeyError/ValueError on a malformed one."""
        values = dict(data)
        values["citations"] = [
            Citation(**{**c, "highlight_spans": [(int(s), int(e)) for s, e in c.get("highlight_spans", [])]})
            for c in values.get("citations", [])
        ]
        values["related"] = [_passage(p) for p in values.get("related", [])]
        values["retrieved"] = [_passage(p) for p in values.get("retrieved", [])]
        turn = cls(**values)
        if not isinstance(turn.question, str) or not isinstance(turn.answer, str):
            raise TypeError("question and answer must be text")
        return turn


_PASSAGE_FIELDS = tuple(f.name for f in fields(Passage))


def _passage(data: dict[str, Any]) -> Passage:
    # A citation's extra fields (n, highlight) are dropped: in these lists it is a passage.
    return Passage(**{name: data[name] for name in _PASSAGE_FIELDS})


def history_messages(turns: list[Turn]) -> list[dict[str, str]]:
    """The last turns as chat messages, the ``history`` the service condenses follow-ups with."""
    messages: list[dict[str, str]] = []
    for turn in turns[-HISTORY_TURNS:]:
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": "" if turn.stopped else turn.answer})
    return messages


def save_turns(turns: list[Turn]) -> list[dict[str, Any]]:
    """What the browser stores: the last SAVED_TURNS turns as JSON-ready dicts."""
    return [turn.to_dict() for turn in turns[-SAVED_TURNS:]]


def load_turns(saved: Any) -> list[Turn]:
    """Turns from browser storage; anything malformed (an old format, a hand edit) is dropped."""
    if not isinstance(saved, list):
        return []
    turns: list[Turn] = []
    for item in saved[-SAVED_TURNS:]:
        try:
            turns.append(Turn.from_dict(item))
        except (TypeError, KeyError, ValueError, AttributeError):
            continue
    return turns
