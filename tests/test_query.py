"""The question analysed once: tokens, parts, the asked figure, years, specific terms."""

from __future__ import annotations

import pytest

from rag.query import analyse, expected_figure, split_subquestions


class FlatIdf:
    """Every term equally specific, except the ones listed as common."""

    def __init__(self, common: set[str] = frozenset()):
        self.common = common

    def idf(self, token: str) -> float:
        return 0.5 if token in self.common else 5.0


def test_a_simple_question_has_no_parts() -> None:
    query = analyse("黑石BXPE基金的管理费是多少？", FlatIdf())
    assert query.parts == ()
    assert query.part_texts == ["黑石BXPE基金的管理费是多少？"]
    assert "管理费" in query.tokens and "bxpe" in query.tokens
    assert query.asks_figure
    assert query.focuses == [None]


def test_a_compound_question_is_analysed_per_part() -> None:
    query = analyse("一共融资了多少钱？比上年同期变化多大？", FlatIdf())
    assert [p.text for p in query.parts] == ["一共融资了多少钱？", "比上年同期变化多大？"]
    assert all(p.tokens for p in query.parts)


def test_terms_skip_question_words_common_words_and_digits() -> None:
    query = analyse("瑞幸咖啡2023年全年的净利润是多少？", FlatIdf(common={"咖啡"}))
    assert "净利润" in query.terms and "瑞幸" in query.terms
    assert "全年" not in query.terms and "咖啡" not in query.terms and "2023" not in query.terms
    assert list(query.terms) == sorted(query.terms, key=len, reverse=True)
    assert query.years == {"2023"}


@pytest.mark.parametrize(
    ("question", "matches", "other"),
    [("有多少家企业参加？", "共有110家企业", "增长12%"), ("全程多长？", "全长12公里", "耗资3亿元")],
)
def test_expected_figure_follows_the_asked_unit(question: str, matches: str, other: str) -> None:
    pattern = expected_figure(question)
    assert pattern is not None and pattern.search(matches) and not pattern.search(other)


def test_split_subquestions_keeps_a_single_question_whole() -> None:
    assert split_subquestions("大润发方面是怎么解释的？") == ["大润发方面是怎么解释的？"]
    assert len(split_subquestions("上半年营收多少，又同比增长了多少？")) == 2
