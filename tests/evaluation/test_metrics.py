"""Metric rules on hand-made predictions."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_HK, PASSAGE_MEETING

from rag.evaluation import metrics as M

# ------------------------------------------------------------------ normalize / hit


def test_normalize_width_whitespace_case() -> None:
    assert M.normalize("ＩＰＯ　退出 \n１７０ 亿") == "ipo退出170亿"
    assert M.normalize("") == ""


def test_evidence_hit_containment_after_normalisation() -> None:
    assert M.evidence_hit(PASSAGE_BLACKSTONE, "当季LP的资金净流入额为１７０亿美元")
    assert not M.evidence_hit(PASSAGE_BLACKSTONE, "红杉美国降低两只风险投资基金的管理费")


def test_evidence_hit_quote_straddling_chunk_boundary() -> None:
    quote = "截至2023年10月10日，正在“排队”的港股IPO已超过110家。在业内人士看来"  # tail in next chunk
    assert M.evidence_hit(PASSAGE_HK, quote)  # 33 of 40 normalised chars are here
    half = "港股IPO已超过110家。在业内人士看来，这背后是中国经济基本面持续好转"
    assert not M.evidence_hit(PASSAGE_HK, half)  # under 60 %


def test_evidence_hit_short_quotes_need_full_containment() -> None:
    assert M.evidence_hit(PASSAGE_HK, "110 家")
    assert not M.evidence_hit(PASSAGE_HK, "110家企业")


def test_evidence_hit_fraction_is_a_parameter() -> None:
    half = "港股IPO已超过110家。在业内人士看来，这背后是中国经济基本面持续好转"
    assert M.evidence_hit(PASSAGE_HK, half, min_fraction=0.3)


# -------------------------------------------------------------------- retrieval

ITEMS = [
    {"id": "1", "type": "factoid", "evidence": [{"file": "a", "quote": "当季 LP 的资金净流入额为 170 亿美元"}]},
    {"id": "2", "type": "factoid", "evidence": [{"file": "b", "quote": "中央经济工作会议 12 月 11 日至 12 日在北京举行"}]},
    {"id": "3", "type": "numeric", "evidence": [{"file": "c", "quote": "正在“排队”的港股 IPO 已超过 110 家"}]},
    {"id": "4", "type": "unanswerable"},
    {"id": "5", "type": "explanation"},  # no evidence: not counted
]


def test_first_hit_rank() -> None:
    texts = [PASSAGE_MEETING, PASSAGE_HK, PASSAGE_BLACKSTONE]
    assert M.first_hit_rank(texts, ["170 亿美元"]) == 3
    assert M.first_hit_rank(texts, ["170 亿美元"], k=2) is None
    assert M.first_hit_rank(texts, ["不存在的内容呀", "港股 IPO 节奏明显加快"]) == 2


def test_recall_and_mrr(make_pred: Any) -> None:
    preds = [
        make_pred(retrieved=[PASSAGE_BLACKSTONE, PASSAGE_MEETING]),  # rank 1
        make_pred(retrieved=[PASSAGE_HK, PASSAGE_MEETING]),  # rank 2
        make_pred(retrieved=[PASSAGE_MEETING] * 10 + [PASSAGE_HK]),  # rank 11: miss
        make_pred(retrieved=[PASSAGE_HK]),  # unanswerable: ignored
        make_pred(retrieved=[PASSAGE_HK]),  # no evidence: ignored
    ]
    assert M.recall_at_k(ITEMS, preds, 1) == pytest.approx(1 / 3)
    assert M.recall_at_k(ITEMS, preds, 5) == pytest.approx(2 / 3)
    assert M.recall_at_k(ITEMS, preds, 10) == pytest.approx(2 / 3)
    assert M.mrr_at_10(ITEMS, preds) == pytest.approx((1 + 0.5 + 0) / 3)


def test_recall_skips_errors_and_missing_retrieval(make_pred: Any) -> None:
    preds = [{"error": "boom"}, make_pred(), None, None, None]  # make_pred(): no "retrieved"
    assert M.recall_at_k(ITEMS, preds, 5) is None
    assert M.mrr_at_10(ITEMS, preds) is None


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
    assert M.all_evidence_recall_at_k([item, item], [both, one], 5) == 0.5
    assert M.recall_at_k([item, item], [both, one], 5) == 1.0
    # not multi-passage: not counted
    assert M.all_evidence_recall_at_k([dict(item, type="factoid")], [both], 5) is None


def test_evidence_without_group_each_its_own_group() -> None:
    item = {"evidence": [{"quote": "a"}, {"quote": "b"}, {"quote": "c", "group": 1}, {"quote": "d", "group": 1}]}
    assert M.evidence_groups(item) == [["a"], ["b"], ["c", "d"]]


# ------------------------------------------------------------------ key facts


def test_key_fact_must_include() -> None:
    item = {"must_include": ["170亿美元", "77%"]}
    assert M.key_fact_correct(item, "黑石净流入１７０ 亿美元，减少约77%[1]。") is True
    assert M.key_fact_correct(item, "黑石净流入170亿美元。") is False
    assert M.key_fact_correct({}, "任何回答") is None
    assert M.key_fact_correct(item, None) is None


def test_key_fact_answer_alternatives() -> None:
    item = {"answer_alternatives": [["1月3日", "一月三日"], ["1月12日"]]}
    assert M.key_fact_correct(item, "宣誓在一月三日，首次会议在1月12日。") is True
    assert M.key_fact_correct(item, "宣誓在1月3日。") is False
    both = {"must_include": ["立法会"], "answer_alternatives": [["1月3日"]]}
    assert M.key_fact_correct(both, "立法会宣誓在1月3日") is True
    assert M.key_fact_correct(both, "宣誓在1月3日") is False


def test_key_fact_accuracy_only_answerable(make_pred: Any) -> None:
    items = [
        {"type": "factoid", "must_include": ["北京"]},
        {"type": "factoid", "must_include": ["上海"]},
        {"type": "unanswerable", "must_include": ["x"]},
        {"type": "factoid"},
    ]
    preds = [make_pred("在北京举行"), make_pred("在北京举行"), make_pred("x"), make_pred("y")]
    assert M.key_fact_accuracy(items, preds) == 0.5


# ------------------------------------------------------------------ citations


def test_citation_precision_counts(make_pred: Any) -> None:
    answer = (
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"  # supported
        "中央经济工作会议12月11日至12日在北京举行[1]。"  # wrong passage
        "港股排队IPO已超过110家[3]。"  # no citation 3
    )
    pred = make_pred(answer, citations={1: PASSAGE_BLACKSTONE, 2: PASSAGE_MEETING})
    assert M.citation_precision_counts(pred) == (1, 3)
    assert M.citation_precision([pred]) == pytest.approx(1 / 3)
    assert M.citation_precision([make_pred("没有标记的回答。")]) is None


def test_citation_coverage(make_pred: Any) -> None:
    answer = (
        "根据资料，答案如下：\n"  # heading: not a claim
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"  # covered
        "中央经济工作会议在北京举行[5]。"  # marker names no citation
        "港股排队IPO已超过110家。"  # uncited
        "资料中没有提及其他基金的情况。"  # refusal: not a claim
    )
    pred = make_pred(answer, citations={1: PASSAGE_BLACKSTONE})
    assert M.citation_coverage_counts(pred) == (1, 3)
    assert M.citation_coverage([pred, make_pred(None)]) == pytest.approx(1 / 3)


# -------------------------------------------------------------------- refusal


def test_refusal_rates(make_pred: Any) -> None:
    items = [{"type": "unanswerable"}, {"type": "unanswerable"}, {"type": "factoid"}, {"type": "numeric"}]
    preds = [make_pred(refused=True), make_pred(refused=False), make_pred(refused=True), make_pred(refused=False)]
    assert M.refusal_rate(items, preds) == 0.5
    assert M.false_refusal_rate(items, preds) == 0.5
    assert M.refusal_rate(items[2:], preds[2:]) is None


# ---------------------------------------------------------------- speed / cost


def test_latency_percentiles(make_pred: Any) -> None:
    preds = [
        make_pred(timings={"retrieve_ms": r, "generate_ms": 1000, "total_ms": r + 1000, "ttft_ms": None})
        for r in (100, 200, 300, 400)
    ] + [{"error": "x"}]
    lat = M.latency_percentiles(preds)
    assert lat["retrieve_ms"]["p50"] == 250
    assert lat["retrieve_ms"]["p95"] == pytest.approx(385)
    assert lat["retrieve_ms"]["n"] == 4
    assert lat["ttft_ms"] == {"p50": None, "p95": None, "mean": None, "n": 0}


def test_tokens_generated(make_pred: Any) -> None:
    preds = [make_pred(tokens=20), make_pred(tokens=40), make_pred(tokens=None)]
    tok = M.tokens_generated(preds)
    assert tok["mean"] == 30 and tok["total"] == 60 and tok["n"] == 2
    assert tok["tokens_per_s"] == pytest.approx(30)  # generate_ms = 1000


# ----------------------------------------------------------------------- judge


class FakeClient:
    def __init__(self, reply: str | Exception) -> None:
        self.reply = reply
        self.calls: list[dict[str, Any]] = []
        self.chat = SimpleNamespace(completions=SimpleNamespace(create=self._create))

    def _create(self, **kwargs: Any) -> Any:
        self.calls.append(kwargs)
        if isinstance(self.reply, Exception):
            raise self.reply
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=self.reply))])


def test_parse_judge_reply() -> None:
    assert M.parse_judge_reply('好的。{"score": 0.5, "reason": "部分正确"}') == (0.5, "部分正确")
    assert M.parse_judge_reply('score: 1') == (1.0, "")
    assert M.parse_judge_reply("无法判断") is None


def test_judge_correctness_with_fake_client() -> None:
    client = FakeClient('{"score": 1, "reason": "一致"}')
    assert M.judge_correctness("问", "北京", "在北京", client, model="judge") == 1.0
    assert client.calls[0]["model"] == "judge" and "北京" in client.calls[0]["messages"][0]["content"]
    assert M.judge_correctness("问", "北京", "在北京", FakeClient(RuntimeError("down")), model="j") is None
    assert M.judge_correctness("问", "北京", "在北京", FakeClient("胡言乱语"), model="j") is None
    assert M.judge_correctness("问", "北京", "在北京", None) is None


def test_judge_settings_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("RAG_JUDGE_MODEL", raising=False)
    monkeypatch.chdir("/")  # no .env here
    assert M.make_judge_client() is None
    monkeypatch.setenv("RAG_JUDGE_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RAG_JUDGE_MODEL", "qwen")
    s = M.JudgeSettings()
    assert s.enabled and s.judge_model == "qwen"
    assert M.make_judge_client(s) is not None


# ------------------------------------------------------------------ aggregate


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
    m = M.compute_metrics(items, preds)
    assert m["n_questions"] == 3 and m["n_errors"] == 1
    assert m["n_answerable"] == 2 and m["n_unanswerable"] == 1
    o = m["overall"]
    assert o["recall@5"] == 1.0 and o["key_fact_accuracy"] == 1.0
    assert o["citation_precision"] == 1.0 and o["citation_coverage"] == 1.0
    assert o["refusal_rate"] == 1.0 and o["false_refusal_rate"] == 0.0
    assert o["judge_correctness"] is None and o["all_evidence_recall@5"] is None
    assert set(m["per_type"]) == {"factoid", "unanswerable"}
    assert m["per_type"]["unanswerable"]["recall@5"] is None
    assert m["per_type"]["unanswerable"]["refusal_rate"] == 1.0


def test_retrieval_only_predictions_skip_answer_metrics(make_pred: Any) -> None:
    items = [{"id": "1", "type": "factoid", "must_include": ["x"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]}]
    pred = make_pred(answer=None, retrieved=[PASSAGE_BLACKSTONE])
    del pred["refused"]
    o = M.compute_metrics(items, [pred])["overall"]
    assert o["recall@1"] == 1.0
    assert o["key_fact_accuracy"] is None and o["citation_precision"] is None
    assert o["false_refusal_rate"] is None
    assert M.question_outcome(items[0], pred)["passed"] is True


def test_question_outcome_pass_rules(make_pred: Any) -> None:
    ans = {"type": "factoid", "must_include": ["北京"]}
    assert M.question_outcome(ans, make_pred("在北京"))["passed"] is True
    assert M.question_outcome(ans, make_pred("在上海"))["passed"] is False
    assert M.question_outcome(ans, make_pred("在北京", refused=True))["passed"] is False
    assert M.question_outcome(ans, {"error": "x"})["passed"] is False
    unans = {"type": "unanswerable"}
    assert M.question_outcome(unans, make_pred("抱歉", refused=True))["passed"] is True
    assert M.question_outcome(unans, make_pred("瞎编", refused=False))["passed"] is False
    judged = make_pred("在北京")
    judged["judge_score"] = 0.5
    assert M.question_outcome({"type": "factoid"}, judged)["passed"] is True
    assert M.question_outcome({"type": "factoid"}, make_pred("在北京"))["passed"] is None


def test_mismatched_lengths_rejected(make_pred: Any) -> None:
    with pytest.raises(ValueError):
        M.recall_at_k([{"type": "factoid"}], [], 5)
