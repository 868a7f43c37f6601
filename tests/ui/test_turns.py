"""What the UI keeps of each turn, and the history it sends with a follow-up."""

from __future__ import annotations

from tests.ui.fakes import answer, citation, passage, refusal

from ui.turns import HISTORY_TURNS, Turn, history_messages


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
    assert turn.citations == [citation()] and turn.related == []
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
