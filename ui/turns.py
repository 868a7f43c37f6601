"""One chat turn as the UI keeps it (in ``gr.State``): what was asked, what was shown.

The sources panel is re-rendered from these on every turn, the feedback log stores
them, and the last few become the history sent with a follow-up question.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from rag.types import Answer, Citation, Passage

HISTORY_TURNS = 3  # earlier turns sent for follow-up questions; more only slows the condense step


@dataclass
class Turn:
    question: str  # as the user typed it (stripped)
    answer: str = ""
    refused: bool = False
    mode: str | None = None  # the mode that answered (extractive after an LLM fallback)
    notice: str | None = None
    citations: list[Citation] = field(default_factory=list)
    related: list[Passage] = field(default_factory=list)

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
        )

    @classmethod
    def failed(cls, question: str, mode: str) -> Turn:
        """A turn whose answering broke: kept so chat message indices and turns stay aligned."""
        return cls(question=question, refused=True, mode=mode)


def history_messages(turns: list[Turn]) -> list[dict[str, str]]:
    """The last turns as chat messages, the ``history`` the service condenses follow-ups with."""
    messages: list[dict[str, str]] = []
    for turn in turns[-HISTORY_TURNS:]:
        messages.append({"role": "user", "content": turn.question})
        messages.append({"role": "assistant", "content": turn.answer})
    return messages
