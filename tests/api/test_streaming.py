"""Starting a stream early and framing answer events as SSE (pure functions, no model)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from rag.api.streaming import answer_frames, start_stream
from rag.errors import IndexBusyError, QuestionError
from rag.types import Answer, Confidence, StreamEvent


def _answer() -> Answer:
    return Answer(
        question="问", standalone_question="问", answer="答[1]。", mode="extractive", refused=False,
        confidence=Confidence(dense=0.91234, bm25=7.5), retrieved=[],
    )


def test_start_stream_raises_a_rejection_before_the_response_starts() -> None:
    def rejected() -> Iterator[StreamEvent]:
        raise QuestionError("问题为空")
        yield  # pragma: no cover

    with pytest.raises(QuestionError):
        start_stream(rejected())


def test_start_stream_keeps_every_event_in_order() -> None:
    pulled: list[int] = []

    def events() -> Iterator[int]:
        for n in range(3):
            pulled.append(n)
            yield n

    stream = start_stream(events())
    assert pulled == [0]  # the first event is pulled at once, the rest lazily
    assert list(stream) == [0, 1, 2]
    assert list(start_stream(iter([]))) == []


def test_answer_frames_are_token_events_then_the_final_answer() -> None:
    answer = _answer()
    frames = list(answer_frames(iter([StreamEvent("token", "答"), StreamEvent("final", answer=answer)])))
    assert [f["event"] for f in frames] == ["token", "final"]
    assert json.loads(frames[0]["data"]) == {"type": "token", "text": "答"}
    final = json.loads(frames[1]["data"])
    assert final == {"type": "final", "result": json.loads(json.dumps(answer.to_dict()))}
    assert final["result"]["confidence"]["dense"] == 0.9123


def test_a_failure_mid_stream_becomes_an_error_event() -> None:
    def events() -> Iterator[StreamEvent]:
        yield StreamEvent("token", "答")
        raise IndexBusyError("另一个导入正在进行")

    frames = list(answer_frames(events()))
    assert frames[-1]["event"] == "error"
    assert json.loads(frames[-1]["data"]) == {
        "type": "error",
        "error": {"message": "另一个导入正在进行", "type": "service_unavailable"},
    }
