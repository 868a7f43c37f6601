"""What the UI keeps of each turn, and the history it sends with a follow-up."""

from __future__ import annotations

import json

from tests.ui.fakes import answer, citation, passage, refusal

from ui.turns import HISTORY_TURNS, SAVED_TURNS, Turn, history_messages, load_turns, save_turns


def test_a_turn_keeps_what_was_shown() -> None:
    result = answer("答[1]", mode="extractive", notice="已改用抽取式回答。")
    turn = Turn.from_answer("原问题", result)
    assert (turn.question, turn.answer, turn.refused, turn.mode, turn.notice) == (
        "原问题",
        "答[1]",
        False,
        "extractive",
        "已改用抽取式回答。",
    )
    assert turn.citations == [citation()] and turn.related == [] and turn.retrieved == result.retrieved
    refused = Turn.from_answer("q", refusal(related=[passage()]))
    assert refused.refused and refused.related == [passage()] and refused.citations == []


def test_a_failed_turn_is_a_refusal_with_nothing_to_show() -> None:
    turn = Turn.failed("q", "local")
    assert turn.refused and turn.answer == "" and turn.mode == "local" and not turn.citations


def test_history_is_the_last_turns_as_messages() -> None:
    turns = [Turn(f"q{i}", answer=f"a{i}") for i in range(HISTORY_TURNS + 2)]
    messages = history_messages(turns)
    assert len(messages) == 2 * HISTORY_TURNS
    assert messages[:2] == [{"role": "user", "content": "q2"}, {"role": "assistant", "content": "a2"}]
    assert messages[-1] == {"role": "assistant", "content": f"a{HISTORY_TURNS + 1}"}
    assert history_messages([]) == []


def test_turns_survive_the_round_trip_through_browser_storage() -> None:
    """The conversation is kept in localStorage as JSON: turns come back equal, citations
    with their highlight spans as tuples again."""
    turns = [
        Turn.from_answer("问题", answer(retrieved=[passage("甲", chunk_id="c1"), passage()])),
        Turn.from_answer("q2", refusal(related=[passage()])),
        Turn.stopped_early("q3", "半截"),
    ]
    stored = json.loads(json.dumps(save_turns(turns), ensure_ascii=False))
    assert load_turns(stored) == turns
    assert isinstance(load_turns(stored)[0].citations[0].highlight_spans[0], tuple)


def test_malformed_storage_is_dropped_not_raised() -> None:
    good = Turn("q", answer="a").to_dict()
    assert load_turns(None) == [] and load_turns("junk") == [] and load_turns({"a": 1}) == []
    assert load_turns([good, {"question": 1}, {"nope": True}, [1, 2], good]) == [Turn("q", answer="a")] * 2
    many = [Turn(f"q{i}").to_dict() for i in range(SAVED_TURNS + 5)]
    assert len(load_turns(many)) == SAVED_TURNS and len(save_turns([Turn("q")] * (SAVED_TURNS + 5))) == SAVED_TURNS
