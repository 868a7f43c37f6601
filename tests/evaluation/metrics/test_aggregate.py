"""The metrics package's aggregates: a whole run (compute_metrics) and one question (question_outcome)."""

from __future__ import annotations

from typing import Any

from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_HK

from rag.evaluation.metrics import QUALITY_METRICS, compute_metrics, question_outcome


def test_compute_metrics_overall_per_type_and_skips(make_pred: Any) -> None:
    items = [
        {"id": "1", "type": "factoid", "must_include": ["170亿美元"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
        {"id": "2", "type": "unanswerable"},
        {"id": "3", "type": "factoid", "must_include": ["北京"]},
    ]
    preds = [
        make_pred("黑石今年二季度LP的资金净流入额为170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_BLACKSTONE]),
        make_pred("资料中没有相关信息。", refused=True, retrieved=[PASSAGE_HK]),
        {"error": "RuntimeError: down"},
    ]
    m = compute_metrics(items, preds)
    assert m["n_questions"] == 3 and m["n_errors"] == 1
    assert m["n_answerable"] == 2 and m["n_unanswerable"] == 1
    o = m["overall"]
    assert set(QUALITY_METRICS) | {"n"} == set(o)
    assert o["recall@5"] == 1.0 and o["key_fact_accuracy"] == 1.0
    assert o["citation_precision"] == 1.0 and o["citation_coverage"] == 1.0
    assert o["refusal_rate"] == 1.0 and o["false_refusal_rate"] == 0.0
    assert o["judge_correctness"] is None and o["all_evidence_recall@5"] is None
    assert set(m["per_type"]) == {"factoid", "unanswerable"}
    assert m["per_type"]["unanswerable"]["recall@5"] is None
    assert m["per_type"]["unanswerable"]["refusal_rate"] == 1.0


def test_untyped_rows_have_a_type_of_their_own(make_pred: Any) -> None:
    m = compute_metrics([{"id": "1", "must_include": ["北京"]}], [make_pred("在北京")])
    assert list(m["per_type"]) == ["untyped"] and m["per_type"]["untyped"]["key_fact_accuracy"] == 1.0


def test_retrieval_only_predictions_skip_answer_metrics(make_pred: Any) -> None:
    items = [{"id": "1", "type": "factoid", "must_include": ["x"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]}]
    pred = make_pred(answer=None, retrieved=[PASSAGE_BLACKSTONE])
    del pred["refused"]
    o = compute_metrics(items, [pred])["overall"]
    assert o["recall@1"] == 1.0
    assert o["key_fact_accuracy"] is None and o["citation_precision"] is None
    assert o["false_refusal_rate"] is None
    assert question_outcome(items[0], pred)["passed"] is True


def test_question_outcome_pass_rules(make_pred: Any) -> None:
    ans = {"type": "factoid", "must_include": ["北京"]}
    assert question_outcome(ans, make_pred("在北京"))["passed"] is True
    assert question_outcome(ans, make_pred("在上海"))["passed"] is False
    assert question_outcome(ans, make_pred("在北京", refused=True))["passed"] is False
    assert question_outcome(ans, {"error": "x"})["passed"] is False
    unans = {"type": "unanswerable"}
    assert question_outcome(unans, make_pred("抱歉", refused=True))["passed"] is True
    assert question_outcome(unans, make_pred("瞎编", refused=False))["passed"] is False
    judged = make_pred("在北京")
    judged["judge_score"] = 0.5
    assert question_outcome({"type": "factoid"}, judged)["passed"] is True
    assert question_outcome({"type": "factoid"}, make_pred("在北京"))["passed"] is None


def test_question_outcome_row(make_pred: Any) -> None:
    item = {"id": "q", "type": "factoid", "question": "多少？", "answer": "170亿美元", "must_include": ["170亿美元"],
            "evidence": [{"quote": "资金净流入额为 170 亿美元"}]}
    pred = make_pred("黑石净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_HK, PASSAGE_BLACKSTONE])
    row = question_outcome(item, pred)
    assert row["hit_rank"] == 2 and row["key_fact"] is True and row["refused"] is False
    assert row["citations"] == [{"n": 1, "file": "f1.txt", "title": "", "section": ""}]
    assert (row["citations_supported"], row["citations_total"]) == (1, 1)
    assert row["error"] is None
    assert question_outcome(item, None)["error"] == "no prediction"


def test_metrics_per_near_miss_kind_and_per_split(make_pred: Any) -> None:
    items = [
        {"id": "1", "type": "factoid", "must_include": ["北京"], "split": "tune"},
        {"id": "2", "type": "unanswerable", "near_miss": "sibling_entity", "split": "test"},
        {"id": "3", "type": "unanswerable", "near_miss": "other_period", "split": "test"},
        {"id": "4", "type": "unanswerable"},
    ]
    preds = [make_pred("在北京"), make_pred("抱歉", refused=True), make_pred("编的"), make_pred("抱歉", refused=True)]
    m = compute_metrics(items, preds)
    assert {k: v["refusal_rate"] for k, v in m["per_near_miss"].items()} == {
        "(unlabelled)": 1.0, "other_period": 0.0, "sibling_entity": 1.0,
    }
    assert set(m["per_split"]) == {"tune", "test"}  # a row without a split is in no split
    assert m["per_split"]["test"]["n"] == 2 and m["per_split"]["test"]["refusal_rate"] == 0.5
    assert m["per_split"]["tune"]["key_fact_accuracy"] == 1.0


def test_question_outcome_says_whether_a_cited_passage_holds_the_evidence(make_pred: Any) -> None:
    item = {"id": "q", "type": "numeric", "must_include": ["170亿美元"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]}
    right = question_outcome(item, make_pred("净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}))
    wrong = question_outcome(item, make_pred("净流入170亿美元[1]。", {1: PASSAGE_HK}))
    assert (right["cited_evidence"], right["evidence_citations"], right["evidence_citations_total"]) == (True, 1, 1)
    assert (wrong["cited_evidence"], wrong["evidence_citations"], wrong["evidence_citations_total"]) == (False, 0, 1)
    assert question_outcome(item, make_pred("没有引用。"))["cited_evidence"] is None
