"""Follow-up questions without an LLM: which ones borrow the previous question's topic."""

from __future__ import annotations

import pytest

BLACKSTONE = [
    {"role": "user", "content": "黑石的BXPE基金是什么？"},
    {"role": "assistant", "content": "黑石BXPE是一只面向富人出资人的PE基金[1]。"},
]


@pytest.mark.parametrize("question", ["那它的管理费呢？", "管理费呢？"])
def test_pronoun_or_ellipsis_follow_up_borrows_the_topic(service, question):
    result = service.ask(question, history=BLACKSTONE, mode="extractive")
    assert result["standalone_question"] == f"黑石的BXPE基金是什么？ {question}"
    assert "1.25%" in result["answer"]


@pytest.mark.parametrize(
    ("question", "expected"),
    [("宁德时代是做什么的？", "宁德时代"), ("2023年汽车出口多少辆？", "491万辆")],
)
def test_short_self_contained_question_keeps_its_own_topic(service, question, expected):
    result = service.ask(question, history=BLACKSTONE, mode="extractive")
    assert result["standalone_question"] == question
    assert not result["refused"] and expected in result["answer"]
    assert "黑石" not in result["answer"]


@pytest.mark.parametrize("question", ["详细说说", "具体是多少？", "哪一年？"])
def test_question_without_an_indexed_term_borrows_the_topic(service, question):
    standalone, _ = service._condense(question, BLACKSTONE, "extractive")
    assert standalone == f"黑石的BXPE基金是什么？ {question}"


def test_first_question_is_left_alone(service):
    assert service._condense("管理费呢？", [], "extractive") == ("管理费呢？", None)
