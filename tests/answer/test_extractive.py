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


def test_a_long_sentence_is_trimmed_to_the_clauses_that_answer() -> None:
    from rag.answer.extractive import TRIM_ABOVE_CHARS, trim_to_clauses
    from rag.query import QueryText

    sentence = (
        "近年来，随着居民收入水平提高和消费观念转变，各地文旅市场持续升温，夜间经济和沉浸式体验成为新热点，"
        "2023年杭州亚运会期间，杭州接待游客总量达4345.9万人次，日均271.6万人次，"
        "同时带动住宿、餐饮、零售等多个行业的消费回暖，文旅部门也相继推出一系列促消费举措，"
        "市场人士普遍认为，随着假日经济和赛事经济的进一步发展，这一趋势仍将延续。"
    )
    assert len(sentence) > TRIM_ABOVE_CHARS
    trimmed = trim_to_clauses(sentence, QueryText.of("杭州亚运会期间接待了多少游客？"))
    assert "4345.9万人次" in trimmed and len(trimmed) < len(sentence)
    # A verbatim piece of the sentence (the citation still checks), ended as a sentence.
    assert trimmed.rstrip("。") in sentence and trimmed.endswith("。")
    short = "黑石BXPE基金的管理费率为1.25%。"
    assert trim_to_clauses(short, QueryText.of("管理费率是多少？")) == short


def test_a_sentence_topping_two_parts_goes_to_the_part_whose_words_it_holds() -> None:
    from rag.answer.evidence import Sentence
    from rag.answer.extractive import _part_tops
    from rag.query import QueryText

    users = Sentence(1, 3, "截至2月底，全国已有285万用户申领了SIM数字身份。", 0.16)
    netizens = Sentence(2, 6, "我国网民规模已经超过10亿人。", 0.11)
    parts = [QueryText.of("我国网民规模有多大？"), QueryText.of("截至2月底申领SIM数字身份的用户又有多少？")]
    # The ranker put the second part's answer first for both parts (it reads the whole question).
    assert _part_tops(parts, [[users, netizens], [users, netizens]]) == [netizens, users]
    # A sentence that answers both parts serves both.
    both = Sentence(1, 1, "我国网民规模超过10亿人，截至2月底285万用户申领SIM数字身份。", 0.3)
    assert _part_tops(parts, [[both, netizens], [both, users]]) == [both, both]


def test_each_part_of_a_compound_question_gets_its_own_sentence(service):
    result = service.ask("我国网民规模有多大？截至2月底申领SIM数字身份的用户又有多少？", mode="extractive")
    assert "10亿" in result.answer and "285万" in result.answer


def test_asked_why_a_sentence_that_only_restates_the_claim_brings_the_reason_after_it(service):
    result = service.ask("于佳为什么说先进制造类项目的估值涨得相对平稳？", mode="extractive")
    assert "估值增长会相对平稳" in result.answer  # the claim the question repeats
    assert "发展更加稳健" in result.answer  # the next sentence: the reason


def test_a_sentence_that_gives_its_reason_brings_nothing_more() -> None:
    from rag.answer.evidence import Evidence, Sentence
    from rag.answer.extractive import _add_reasons
    from rag.query import analyse

    class FlatIdf:
        def idf(self, token: str) -> float:
            return 5.0

    sentences = ["估值增长相对平稳，主要是因为企业发展稳健。", "下一句与原因无关。"]
    evidence = Evidence(query=analyse("为什么估值增长相对平稳？", FlatIdf()), passages=[], sentences=[sentences],
                        rankings=[[Sentence(1, 0, sentences[0], 0.9)]])
    chosen = {(1, 0): Sentence(1, 0, sentences[0], 0.9)}
    _add_reasons(chosen, evidence)
    assert list(chosen) == [(1, 0)]
    chosen = {(1, 0): Sentence(1, 0, "估值增长相对平稳。", 0.9)}
    _add_reasons(chosen, evidence)
    assert list(chosen) == [(1, 0), (1, 1)]
