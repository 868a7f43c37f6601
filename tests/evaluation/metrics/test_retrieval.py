"""Retrieval metrics on hand-made predictions: what a hit is, recall@k, MRR@10."""

from __future__ import annotations

from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_HK, PASSAGE_MEETING

from rag.evaluation.metrics.retrieval import (
    all_evidence_recall_at_k,
    evidence_hit,
    first_hit_rank,
    mrr_at_10,
    recall_at_k,
)

# ------------------------------------------------------------------ hit


def test_evidence_hit_containment_after_normalisation() -> None:
    assert evidence_hit(PASSAGE_BLACKSTONE, "当季LP的资金净流入额为１７０亿美元")
    assert not evidence_hit(PASSAGE_BLACKSTONE, "红杉美国降低两只风险投资基金的管理费")


def test_evidence_hit_quote_straddling_chunk_boundary() -> None:
    quote = "截至2023年10月10日，正在“排队”的港股IPO已超过110家。在业内人士看来"  # tail in next chunk
    assert evidence_hit(PASSAGE_HK, quote)  # 33 of 40 normalised chars are here
    half = "港股IPO已超过110家。在业内人士看来，这背后是中国经济基本面持续好转"
    assert not evidence_hit(PASSAGE_HK, half)  # under 60 %


def test_evidence_hit_short_quotes_need_full_containment() -> None:
    assert evidence_hit(PASSAGE_HK, "110 家")
    assert not evidence_hit(PASSAGE_HK, "110家企业")


def test_evidence_hit_fraction_is_a_parameter() -> None:
    half = "港股IPO已超过110家。在业内人士看来，这背后是中国经济基本面持续好转"
    assert evidence_hit(PASSAGE_HK, half, min_fraction=0.3)


# ------------------------------------------------------------------ rank metrics

ITEMS = [
    {"id": "1", "type": "factoid", "evidence": [{"file": "a", "quote": "当季 LP 的资金净流入额为 170 亿美元"}]},
    {"id": "2", "type": "factoid", "evidence": [{"file": "b", "quote": "中央经济工作会议 12 月 11 日至 12 日在北京举行"}]},
    {"id": "3", "type": "numeric", "evidence": [{"file": "c", "quote": "正在“排队”的港股 IPO 已超过 110 家"}]},
    {"id": "4", "type": "unanswerable"},
    {"id": "5", "type": "explanation"},  # no evidence: not counted
]


def test_first_hit_rank() -> None:
    texts = [PASSAGE_MEETING, PASSAGE_HK, PASSAGE_BLACKSTONE]
    assert first_hit_rank(texts, ["170 亿美元"]) == 3
    assert first_hit_rank(texts, ["170 亿美元"], k=2) is None
    assert first_hit_rank(texts, ["不存在的内容呀", "港股 IPO 节奏明显加快"]) == 2


def test_recall_and_mrr(make_pred: Any) -> None:
    preds = [
        make_pred(retrieved=[PASSAGE_BLACKSTONE, PASSAGE_MEETING]),  # rank 1
        make_pred(retrieved=[PASSAGE_HK, PASSAGE_MEETING]),  # rank 2
        make_pred(retrieved=[PASSAGE_MEETING] * 10 + [PASSAGE_HK]),  # rank 11: miss
        make_pred(retrieved=[PASSAGE_HK]),  # unanswerable: ignored
        make_pred(retrieved=[PASSAGE_HK]),  # no evidence: ignored
    ]
    assert recall_at_k(ITEMS, preds, 1) == pytest.approx(1 / 3)
    assert recall_at_k(ITEMS, preds, 5) == pytest.approx(2 / 3)
    assert recall_at_k(ITEMS, preds, 10) == pytest.approx(2 / 3)
    assert mrr_at_10(ITEMS, preds) == pytest.approx((1 + 0.5 + 0) / 3)


def test_recall_skips_errors_and_missing_retrieval(make_pred: Any) -> None:
    preds = [{"error": "boom"}, make_pred(), None, None, None]  # make_pred(): no "retrieved"
    assert recall_at_k(ITEMS, preds, 5) is None
    assert mrr_at_10(ITEMS, preds) is None


def test_all_evidence_recall_uses_groups(make_pred: Any) -> None:
    item = {
        "id": "m",
        "type": "multi-passage",
        "evidence": [
            {"file": "a", "quote": "当季 LP 的资金净流入额为 170 亿美元", "group": 0},
            {"file": "a2", "quote": "黑石二季度净流入只有一百多亿美元呢", "group": 0},  # equivalent source
            {"file": "b", "quote": "中央经济工作会议 12 月 11 日至 12 日在北京举行", "group": 1},
        ],
    }
    both = make_pred(retrieved=[PASSAGE_BLACKSTONE, PASSAGE_MEETING])
    one = make_pred(retrieved=[PASSAGE_BLACKSTONE, PASSAGE_HK])
    assert all_evidence_recall_at_k([item, item], [both, one], 5) == 0.5
    assert recall_at_k([item, item], [both, one], 5) == 1.0
    # not multi-passage: not counted
    assert all_evidence_recall_at_k([dict(item, type="factoid")], [both], 5) is None


def test_mismatched_lengths_rejected() -> None:
    with pytest.raises(ValueError):
        recall_at_k([{"type": "factoid"}], [], 5)
