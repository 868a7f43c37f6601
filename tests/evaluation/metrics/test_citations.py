"""Citation metrics on hand-made answers: marker precision and claim coverage."""

from __future__ import annotations

from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING

from rag.evaluation.metrics.citations import (
    citation_coverage,
    citation_coverage_counts,
    citation_precision,
    citation_precision_counts,
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
