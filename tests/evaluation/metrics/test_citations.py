"""Citation metrics on hand-made answers: evidence citation precision, checker-rule support, claim coverage."""

from __future__ import annotations

from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING

from rag.evaluation.metrics.citations import (
    citation_coverage,
    citation_coverage_counts,
    citation_precision,
    citation_precision_counts,
    evidence_citation_counts,
    evidence_citation_precision,
)


def test_citation_precision_counts(make_pred: Any) -> None:
    answer = (
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"  # supported
        "中央经济工作会议12月11日至12日在北京举行[1]。"  # wrong passage
        "港股排队IPO已超过110家[3]。"  # no citation 3
    )
    pred = make_pred(answer, citations={1: PASSAGE_BLACKSTONE, 2: PASSAGE_MEETING})
    assert citation_precision_counts(pred) == (1, 3)
    assert citation_precision([pred]) == pytest.approx(1 / 3)
    assert citation_precision([make_pred("没有标记的回答。")]) is None


def test_citation_precision_threshold_is_a_parameter(make_pred: Any) -> None:
    pred = make_pred("黑石今年二季度LP的资金净流入额为170亿美元[1]。", citations={1: PASSAGE_BLACKSTONE})
    assert citation_precision_counts(pred, threshold=0.0) == (1, 1)
    assert citation_precision_counts(pred, threshold=1.01) == (0, 1)


def test_citation_coverage(make_pred: Any) -> None:
    answer = (
        "根据资料，答案如下：\n"  # heading: not a claim
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"  # covered
        "中央经济工作会议在北京举行[5]。"  # marker names no citation
        "港股排队IPO已超过110家。"  # uncited
        "资料中没有提及其他基金的情况。"  # refusal: not a claim
    )
    pred = make_pred(answer, citations={1: PASSAGE_BLACKSTONE})
    assert citation_coverage_counts(pred) == (1, 3)
    assert citation_coverage([pred, make_pred(None)]) == pytest.approx(1 / 3)


BLACKSTONE_ITEM = {"type": "numeric", "must_include": ["170亿美元"], "evidence": [{"quote": "当季 LP 的资金净流入额为 170 亿美元"}]}


def test_evidence_citation_precision_counts_a_passage_without_the_quote_against(make_pred: Any) -> None:
    # Both sentences pass the checker's rule, each against the passage it cites; only
    # one cited passage holds the item's evidence, so the independent metric is 1/2.
    answer = "黑石今年二季度LP的资金净流入额为170亿美元[1]。中央经济工作会议12月11日至12日在北京举行[2]。"
    pred = make_pred(answer, citations={1: PASSAGE_BLACKSTONE, 2: PASSAGE_MEETING})
    assert citation_precision([pred]) == 1.0
    assert evidence_citation_counts(BLACKSTONE_ITEM, pred) == (1, 2)
    assert evidence_citation_precision([BLACKSTONE_ITEM], [pred]) == pytest.approx(0.5)


def test_evidence_citation_precision_can_be_zero(make_pred: Any) -> None:
    pred = make_pred("中央经济工作会议在北京举行[1]。", citations={1: PASSAGE_MEETING})
    assert citation_precision([pred]) == 1.0  # the checker is satisfied...
    assert evidence_citation_precision([BLACKSTONE_ITEM], [pred]) == 0.0  # ...the evidence is not there


def test_evidence_citation_precision_skips_what_it_cannot_judge(make_pred: Any) -> None:
    cited = make_pred("黑石净流入170亿美元[1]。", citations={1: PASSAGE_BLACKSTONE})
    assert evidence_citation_counts({"type": "unanswerable"}, cited) == (0, 0)
    assert evidence_citation_counts({"type": "factoid", "must_include": ["x"]}, cited) == (0, 0)  # no evidence
    assert evidence_citation_counts(BLACKSTONE_ITEM, make_pred("抱歉", {1: PASSAGE_BLACKSTONE}, refused=True)) == (0, 0)
    assert evidence_citation_counts(BLACKSTONE_ITEM, {"error": "down"}) == (0, 0)
    assert evidence_citation_precision([BLACKSTONE_ITEM], [make_pred("没有引用。")]) is None


def test_a_quote_cut_by_a_chunk_boundary_still_counts(make_pred: Any) -> None:
    # The evidence-hit rule of the retrieval metrics: most of the quote, contiguous, is enough.
    item = {"type": "factoid", "evidence": [{"quote": "当季 LP 的资金净流入额为 170 亿美元，较去年同期减少约 77%。这一句在下一块"}]}
    pred = make_pred("净流入170亿美元[1]。", citations={1: PASSAGE_BLACKSTONE})
    assert evidence_citation_counts(item, pred) == (1, 1)
