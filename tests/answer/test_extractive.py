"""Extractive answers on the real index: cited, fast, and refusing when nothing fits."""

from __future__ import annotations

import re

import pytest

from rag.errors import QuestionError
from rag.service import REFUSAL


def test_extractive_answer_cites_supporting_passage(service):
    result = service.ask("黑石BXPE基金收取多少管理费？", mode="extractive")
    assert not result.refused
    assert "1.25%" in result.answer
    markers = {int(n) for n in re.findall(r"\[(\d+)\]", result.answer)}
    assert markers == {c.n for c in result.citations}
    for citation in result.citations:
        pieces = citation.highlight if isinstance(citation.highlight, list) else [citation.highlight]
        assert pieces and all(piece and piece in citation.text for piece in pieces)
        # The offsets point at exactly the highlighted text.
        assert [citation.text[s:e] for s, e in citation.highlight_spans] == pieces
    assert result.mode == "extractive" and result.tokens_generated is None


def test_extractive_answers_a_numeric_newspaper_question(service):
    result = service.ask("2023年中国汽车出口了多少辆？", mode="extractive")
    assert "491万辆" in result.answer
    assert result.citations[0].file == "004_c5b0c1dfd4c407be.txt"


def test_garbage_question_is_refused_with_related_passages(service):
    result = service.ask("zzqqxx qqzzyy", mode="extractive")
    assert result.refused and result.answer == REFUSAL
    assert result.citations == [] and result.related


def test_follow_up_without_llm_carries_the_topic(service):
    history = [{"role": "user", "content": "黑石的BXPE基金是什么？"}, {"role": "assistant", "content": "……"}]
    result = service.ask("那它的管理费呢？", history=history, mode="extractive")
    assert "黑石" in result.standalone_question
    assert "1.25%" in result.answer


@pytest.mark.parametrize(
    "kwargs",
    [
        {"question": ""},
        {"question": "   "},
        {"question": "问" * 5000},
        {"question": 42},
        {"question": "黑石", "mode": "gpt-9"},
        {"question": "黑石", "k": 0},
    ],
)
def test_bad_input_gets_a_clear_error(service, kwargs):
    with pytest.raises(QuestionError) as info:
        service.ask(**kwargs)
    assert str(info.value)
