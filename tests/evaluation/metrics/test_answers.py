"""Answer metrics on hand-made predictions: key facts, refusals, the judge mean."""

from __future__ import annotations

from typing import Any

from rag.evaluation.metrics.answers import (
    false_refusal_rate,
    judge_mean,
    key_fact_accuracy,
    key_fact_correct,
    refusal_rate,
)


def test_key_facts_ignore_width_whitespace_case_and_markers() -> None:
    item = {"must_include": ["ipo退出170亿"]}
    assert key_fact_correct(item, "ＩＰＯ　退出 \n１７０ 亿") is True
    assert key_fact_correct({"must_include": ["170亿美元"]}, "净流入170亿[1]美元。") is True
    assert key_fact_correct({"must_include": ["170亿美元"]}, "") is False


def test_key_fact_must_include() -> None:
    item = {"must_include": ["170亿美元", "77%"]}
    assert key_fact_correct(item, "黑石净流入１７０ 亿美元，减少约77%[1]。") is True
    assert key_fact_correct(item, "黑石净流入170亿美元。") is False
    assert key_fact_correct({}, "任何回答") is None
    assert key_fact_correct(item, None) is None


def test_key_fact_answer_alternatives() -> None:
    item = {"answer_alternatives": [["1月3日", "一月三日"], ["1月12日"]]}
    assert key_fact_correct(item, "宣誓在一月三日，首次会议在1月12日。") is True
    assert key_fact_correct(item, "宣誓在1月3日。") is False
    both = {"must_include": ["立法会"], "answer_alternatives": [["1月3日"]]}
    assert key_fact_correct(both, "立法会宣誓在1月3日") is True
    assert key_fact_correct(both, "宣誓在1月3日") is False


def test_key_fact_accuracy_only_answerable(make_pred: Any) -> None:
    items = [
        {"type": "factoid", "must_include": ["北京"]},
        {"type": "factoid", "must_include": ["上海"]},
        {"type": "unanswerable", "must_include": ["x"]},
        {"type": "factoid"},
    ]
    preds = [make_pred("在北京举行"), make_pred("在北京举行"), make_pred("x"), make_pred("y")]
    assert key_fact_accuracy(items, preds) == 0.5


def test_refusal_rates(make_pred: Any) -> None:
    items = [{"type": "unanswerable"}, {"type": "unanswerable"}, {"type": "factoid"}, {"type": "numeric"}]
    preds = [make_pred(refused=True), make_pred(refused=False), make_pred(refused=True), make_pred(refused=False)]
    assert refusal_rate(items, preds) == 0.5
    assert false_refusal_rate(items, preds) == 0.5
    assert refusal_rate(items[2:], preds[2:]) is None


def test_judge_mean_over_answerable_scored_questions(make_pred: Any) -> None:
    items = [{"type": "factoid"}, {"type": "factoid"}, {"type": "unanswerable"}, {"type": "factoid"}]
    preds = [make_pred("a"), make_pred("b"), make_pred("c"), {"error": "x", "judge_score": 1}]
    preds[0]["judge_score"], preds[1]["judge_score"], preds[2]["judge_score"] = 1, 0.5, 0
    assert judge_mean(items, preds) == 0.75
    assert judge_mean(items[:1], [make_pred("a")]) is None
