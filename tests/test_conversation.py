"""Follow-up questions without an LLM: which ones borrow the previous question's topic."""

from __future__ import annotations

import pytest

from rag.conversation import clean_history, leans_on_previous, standalone_question
from rag.errors import LLMUnavailableError

BLACKSTONE = [
    {"role": "user", "content": "黑石的BXPE基金是什么？"},
    {"role": "assistant", "content": "黑石BXPE是一只面向富人出资人的PE基金[1]。"},
]
INDEXED = {"宁德", "时代", "汽车", "出口", "黑石", "管理费", "bxpe"}


def known(term: str) -> bool:
    return term in INDEXED


@pytest.mark.parametrize("question", ["那它的管理费呢？", "管理费呢？", "详细说说", "具体是多少？", "哪一年？"])
def test_follow_ups_that_cannot_stand_alone_borrow_the_topic(question: str) -> None:
    assert leans_on_previous(question, known)
    assert standalone_question(question, BLACKSTONE, known) == f"黑石的BXPE基金是什么？ {question}"


@pytest.mark.parametrize("question", ["宁德时代是做什么的？", "2023年汽车出口多少辆？"])
def test_self_contained_question_keeps_its_own_topic(question: str) -> None:
    assert not leans_on_previous(question, known)
    assert standalone_question(question, BLACKSTONE, known) == question


def test_first_question_is_left_alone() -> None:
    assert standalone_question("管理费呢？", [], known) == "管理费呢？"


def test_the_llm_rewrites_and_an_unreachable_one_falls_back() -> None:
    assert standalone_question("管理费呢？", BLACKSTONE, known, lambda q, h: "BXPE的管理费是多少？") == "BXPE的管理费是多少？"

    def dead(question: str, history: list) -> str:
        raise LLMUnavailableError("连接失败", reason="APIConnectionError")

    assert standalone_question("管理费呢？", BLACKSTONE, known, dead) == "黑石的BXPE基金是什么？ 管理费呢？"


def test_a_bug_in_the_rewriter_is_not_hidden() -> None:
    def broken(question: str, history: list) -> str:
        raise TypeError("bug")

    with pytest.raises(TypeError):
        standalone_question("管理费呢？", BLACKSTONE, known, broken)


def test_clean_history_keeps_turns_with_content() -> None:
    assert clean_history([{"role": "user", "content": ""}, "junk", BLACKSTONE[0], None]) == [BLACKSTONE[0]]
    assert clean_history(None) == []
