"""Tests for the citation checker: marker model, repair policy and renumbering.

The passages are cut from the bundled corpus (tests/verify/passages.py); the answers
are hand-written in the forms the small LLM produces.
"""

from __future__ import annotations

import pytest

from rag.text.markers import parse_markers, strip_markers
from rag.text.sentences import split_sentences
from rag.verify.citations import check_citations, claim_segments, renumber, score_markers
from rag.verify.support import SUPPORT_THRESHOLD
from tests.verify.passages import PASSAGES

# ------------------------------------------------ sentences and markers it reads


def test_split_sentences_keeps_markers_before_or_after_terminator() -> None:
    text = "会议在北京举行[1]。会议在北京举行。[2] 他说：“好！”[3]\n第二行没有句号"
    assert split_sentences(text) == [
        "会议在北京举行[1]。",
        "会议在北京举行。[2]",
        "他说：“好！”[3]",
        "第二行没有句号",
    ]


def test_split_sentences_all_terminators_and_decimals() -> None:
    text = "增长6.9%；下降3.5%;  真的吗？是的!好?结束。"
    assert split_sentences(text) == ["增长6.9%；", "下降3.5%;", "真的吗？", "是的!", "好?", "结束。"]


def test_parse_markers_all_syntaxes() -> None:
    text = "a[1]b[1,2]c[1, 2]d［3］e【4】f[5][6]g［１］h[2、3]"
    assert parse_markers(text) == [1, 1, 2, 1, 2, 3, 4, 5, 6, 1, 2, 3]
    assert strip_markers(text) == "abcdefgh"


def test_years_in_brackets_are_not_markers() -> None:
    assert parse_markers("报告[2023]显示") == []


def test_claim_segments_split_by_marker_group() -> None:
    segs = claim_segments("黑石净流入170亿美元[1]，老虎环球募集27亿美元[2]。")
    assert segs == [("黑石净流入170亿美元", [1]), ("，老虎环球募集27亿美元", [2])]


# ------------------------------------------------------------- check_citations

P = [PASSAGES["A"], PASSAGES["C"], PASSAGES["E"]]


def test_correct_marker_kept() -> None:
    r = check_citations("会议提出要提振新能源汽车、电子产品等大宗消费[2]。", P)
    assert r.text == "会议提出要提振新能源汽车、电子产品等大宗消费[2]。"
    assert (r.kept, r.moved, r.removed, r.added) == (1, 0, 0, 0)
    assert r.cited == [2]
    assert r.unsupported_sentences == []


def test_wrong_marker_moved() -> None:
    r = check_citations("黑石今年二季度LP的资金净流入额为170亿美元[3]。", P)
    assert r.text == "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
    assert (r.kept, r.moved, r.removed) == (0, 1, 0)
    action = r.sentences[0].actions[0]
    assert (action.original, action.final, action.action) == (3, 1, "moved")


def test_out_of_range_marker_removed() -> None:
    r = check_citations("港股IPO节奏明显加快[9]。", P, add_threshold=1.1)
    assert r.text == "港股IPO节奏明显加快。"
    assert (r.invalid, r.removed) == (1, 1)
    assert r.cited == []


def test_out_of_range_marker_replaced_when_strongly_supported() -> None:
    r = check_citations("截至2023年10月10日，正在排队的港股IPO已超过110家[0]。", P)
    assert r.text == "截至2023年10月10日，正在排队的港股IPO已超过110家[3]。"
    assert (r.invalid, r.removed, r.added) == (1, 1, 1)


def test_unsupported_claim_flagged_and_marker_removed() -> None:
    answer = "黑石今年二季度LP的资金净流入额为170亿美元[1]。该基金计划明年在纳斯达克上市，募资规模约50亿美元[1]。"
    r = check_citations(answer, P)
    assert r.text == "黑石今年二季度LP的资金净流入额为170亿美元[1]。该基金计划明年在纳斯达克上市，募资规模约50亿美元。"
    assert r.unsupported_sentences == ["该基金计划明年在纳斯达克上市，募资规模约50亿美元[1]。"]
    assert (r.kept, r.removed) == (1, 1)


def test_unmarked_supported_sentence_gets_marker() -> None:
    r = check_citations("老虎环球基金向逾300位LP募集约27亿美元资金！", P)
    assert r.text == "老虎环球基金向逾300位LP募集约27亿美元资金[1]！"
    assert r.added == 1 and r.cited == [1]


def test_connectives_and_refusals_not_flagged_nor_cited() -> None:
    answer = "根据提供的资料，答案如下：\n综上所述。\n资料中没有提及该基金的退出计划。"
    r = check_citations(answer, P)
    assert r.text == answer
    assert r.unsupported_sentences == []
    assert r.cited == []


def test_marker_syntaxes_normalised() -> None:
    answer = (
        "黑石今年二季度LP的资金净流入额为170亿美元。［１］"
        "会议提出要提振新能源汽车、电子产品等大宗消费【2】；"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[1, 3]。"
        "中央经济工作会议12月11日至12日在北京举行[2][2]。"
    )
    r = check_citations(answer, P)
    assert r.text == (
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
        "会议提出要提振新能源汽车、电子产品等大宗消费[2]；"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[3]。"
        "中央经济工作会议12月11日至12日在北京举行[2]。"
    )
    assert r.cited == [1, 2, 3]


def test_clause_level_markers_checked_separately() -> None:
    answer = "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[1]。"
    r = check_citations(answer, P)
    assert r.text == "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[3]。"
    assert (r.kept, r.moved) == (1, 1)


def test_layout_between_sentences_preserved() -> None:
    answer = "要点：\n\n1. 会议提出要提振新能源汽车、电子产品等大宗消费[2]。\n2. 港股IPO节奏明显加快[3]。\n"
    r = check_citations(answer, P)
    assert r.text == answer


def test_no_passages_everything_removed_and_flagged() -> None:
    r = check_citations("黑石二季度LP资金净流入170亿美元[1]。", [])
    assert r.text == "黑石二季度LP资金净流入170亿美元。"
    assert r.invalid == 1 and len(r.unsupported_sentences) == 1


def test_threshold_is_overridable() -> None:
    answer = "据毕马威报告，港股IPO自9月起明显提速[3]。"
    assert check_citations(answer, P).removed == 1
    assert check_citations(answer, P, threshold=0.3).kept == 1


# -------------------------------------------------------------------- renumber


def test_renumber_in_order_of_first_citation() -> None:
    answer = (
        "港股IPO节奏明显加快[3]。"
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[3]，参与首期募资的LP可以获得1.75%管理费的优惠[1]。"
    )
    r = check_citations(answer, P)
    text, mapping = renumber(r)
    assert mapping == {1: 3, 2: 1}
    assert text == (
        "港股IPO节奏明显加快[1]。"
        "黑石今年二季度LP的资金净流入额为170亿美元[2]。"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[1]，参与首期募资的LP可以获得1.75%管理费的优惠[2]。"
    )


def test_renumber_sorts_groups_and_ignores_years() -> None:
    answer = "截至2023年10月10日，正在排队的港股IPO已超过110家，黑石今年二季度LP的资金净流入额为170亿美元[3][1]。报告[2023]。"
    r = check_citations(answer, P)
    text, mapping = renumber(r)
    assert mapping == {1: 1, 2: 3}
    assert text.startswith("截至2023年10月10日") and "[1][2]。" in text
    assert "[2023]" in text


@pytest.mark.parametrize("answer", ["", "   \n"])
def test_empty_answer(answer: str) -> None:
    r = check_citations(answer, P)
    assert r.text == answer and r.cited == [] and r.sentences == []


def test_score_markers_matches_checker_rule() -> None:
    sentence = "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[2][9]。"
    scores = dict(score_markers(sentence, {1: PASSAGES["A"], 2: PASSAGES["E"]}))
    assert scores[1] >= SUPPORT_THRESHOLD and scores[2] >= SUPPORT_THRESHOLD
    assert scores[9] is None
    wrong = dict(score_markers("黑石二季度LP资金净流入170亿美元[1]。", {1: PASSAGES["E"]}))
    assert wrong[1] < SUPPORT_THRESHOLD


def test_paraphrased_answer_with_the_passage_figure_is_kept() -> None:
    question = "上市公司近三年累计现金分红不到年均净利润的多大比例时，大股东就不能在二级市场卖股票？"
    passage = "证监会规定，最近三年累计现金分红金额低于最近三年年均净利润30%的，控股股东不得通过二级市场减持本公司股份。"
    result = check_citations("上市公司近三年累计现金分红不到年均净利润的30%时，大股东就不能在二级市场卖股票[1]。", [passage], question=question)
    assert result.unsupported_sentences == [] and parse_markers(result.text) == [1]


# --------------------------------------------------------- "…" ends a sentence


def test_ellipsis_ends_a_sentence_so_each_side_is_checked() -> None:
    """Since the one splitter ends a sentence at "…", each side of it is a claim of its own."""
    answer = "会议提出要提振新能源汽车、电子产品等大宗消费……港股IPO节奏明显加快[3]。"
    r = check_citations(answer, P)
    assert [s.text for s in r.sentences] == ["会议提出要提振新能源汽车、电子产品等大宗消费……", "港股IPO节奏明显加快[3]。"]
    assert r.text == "会议提出要提振新能源汽车、电子产品等大宗消费[2]……港股IPO节奏明显加快[3]。"
    assert r.cited == [2, 3]


def test_marker_after_an_ellipsis_goes_before_it() -> None:
    r = check_citations("会议提出要提振新能源汽车、电子产品等大宗消费……[2]", P)
    assert r.text == "会议提出要提振新能源汽车、电子产品等大宗消费[2]……"
    assert r.kept == 1
