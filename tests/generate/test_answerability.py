"""An answer that asserts a question term its sources lack is caught (real index idf)."""

from __future__ import annotations

from rag.generate.answerability import question_terms, unsupported_question_terms

LUCKIN = "瑞幸咖啡2023年总净收入为248.6亿元，同比增长87.3%，门店总数达16248家。"


def test_question_terms_skip_question_words(service) -> None:
    terms = question_terms("瑞幸咖啡2023年全年的净利润是多少？", service.idf)
    assert "净利润" in terms and "瑞幸" in terms
    assert not {"多少", "全年", "2023"} & set(terms)


def test_neighbouring_figure_passed_off_as_the_asked_one_is_caught(service) -> None:
    missing = unsupported_question_terms(
        "瑞幸咖啡2023年全年的净利润是多少？", "瑞幸咖啡2023年全年的净利润为248.6亿元[1]。", [LUCKIN], service.idf
    )
    assert missing and all("净利" in term for term in missing)


def test_supported_answer_passes(service) -> None:
    assert not unsupported_question_terms(
        "瑞幸咖啡2023年的总净收入是多少？", "瑞幸咖啡2023年总净收入为248.6亿元[1]。", [LUCKIN], service.idf
    )


def test_terms_the_answer_does_not_assert_are_not_held_against_it(service) -> None:
    # A terse answer asserts no question term: nothing to check here (the citation check covers the figure).
    assert not unsupported_question_terms("瑞幸咖啡2023年全年的净利润是多少？", "248.6亿元[1]。", [LUCKIN], service.idf)
