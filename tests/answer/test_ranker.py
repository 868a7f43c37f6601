"""The learned evidence ranker and answerability gate: the bundled model file, its
features, the sentence candidates, and the gate's figure signals (no index needed)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rag.answer.evidence import candidates
from rag.answer.gate import GATE_FEATURES, GateInput, gate_features
from rag.answer.ranker import (
    FEATURES,
    MODEL_FILE,
    Candidate,
    RankerModel,
    features,
    has_figure,
    load_model,
    states_asked_figure,
)
from rag.query import QueryText, analyse


class FlatIdf:
    """A Vocabulary where every word is equally rare (the features only need relative weights)."""

    def idf(self, term: str) -> float:
        return 1.0


def test_bundled_model_matches_the_code_and_was_learned_on_tune() -> None:
    model = load_model()
    assert model.sentence.features == FEATURES and len(model.sentence.weights) == len(FEATURES)
    assert model.gate is not None and model.gate.features == GATE_FEATURES
    assert model.trained_on["split"] == "tune"
    # Each answer mode has its own threshold, a probability.
    for mode in ("extractive", "local", "openai"):
        assert 0.0 < model.threshold(mode) < 1.0


def test_a_model_file_with_other_features_is_refused_with_the_fix(tmp_path) -> None:
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    data["sentence"]["features"] = data["sentence"]["features"][:-1] + ["something_else"]
    stale = tmp_path / "stale.json"
    stale.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ValueError, match="train_evidence_ranker"):
        RankerModel.load(stale)


def test_probabilities_are_monotone_in_what_the_model_learned_to_like() -> None:
    model = load_model()
    row = model.sentence.mean.copy()
    better = row.copy()
    strongest = int(np.argmax(model.sentence.weights))
    better[strongest] += model.sentence.scale[strongest]
    low, high = model.probabilities(np.vstack([row, better]))
    assert 0.0 < low < high < 1.0


def test_features_prefer_the_sentence_holding_the_asked_words() -> None:
    focus = QueryText.of("黑石BXPE基金的管理费率是多少？")
    texts = [["黑石今年发布了新的产品线。", "BXPE基金的管理费率为1.25%。"]]
    found = [Candidate(1, i, t) for i, t in enumerate(texts[0])]
    x = features(focus, focus, found, texts, ["黑石"], [1.0], FlatIdf())
    assert x.shape == (2, len(FEATURES))
    term = FEATURES.index("term_focus")
    assert x[1, term] > x[0, term]
    missing = FEATURES.index("figure_missing")
    assert x[0, missing] == 1.0 and x[1, missing] == 0.0
    # A simple question has no "rest" beyond its one part.
    assert not x[:, FEATURES.index("term_rest")].any()


def test_a_sentence_cut_at_a_chunk_edge_gives_way_to_the_whole_one() -> None:
    whole = "随着科创板推出，证监会对“三类股东”投资上市公司的态度已从“严格禁止”变为“逐渐放开”。"
    cut = "随着科创板推出，证监会对“三类股东”投资上市公司的态度已从"
    sentences = [["科创板改革持续推进。", cut], [whole, "另一句完整的话在这里。"]]
    texts = [c.text for c in candidates(sentences)]
    assert cut not in texts and whole in texts
    # The same words inside one passage are not an overlap: both stay.
    assert len(candidates([["同一段里的一句话。", "同一段里的一句话。还有更多内容。"]])) == 2


def test_has_figure() -> None:
    assert has_figure("管理费率为1.25%") and has_figure("共有三家机构") and not has_figure("暂无公开信息。")


def test_a_date_code_or_the_questions_own_number_does_not_answer_how_much() -> None:
    price = QueryText.of("2024年“村BA”球王争霸赛的冠军奖金是多少？")
    assert not states_asked_figure(price, "2024年中国首届“村BA”球王争霸赛即将在台盘村打响。")
    assert not states_asked_figure(price, "去年10月至12月，赛事在贵州举行。")
    assert not states_asked_figure(price, "浦发银行(600000.SH)联动集团内外资源。")
    assert states_asked_figure(price, "2024年冠军奖金为10万元。")
    assert states_asked_figure(price, "冠军奖金三千元。")
    assert states_asked_figure(price, "奖金总额2023.5万元。") and states_asked_figure(price, "共发放1996笔。")
    assert not states_asked_figure(QueryText.of("书生·浦语2.0的参数规模有多大？"), "书生·浦语2.0表现优异。")
    assert states_asked_figure(QueryText.of("MWC有多少家企业参加？"), "MWC 2024共有2400多家企业出席。")
    assert states_asked_figure(QueryText.of("过去几年增长了多少？"), "过去5年增长了两成。")
    # Asked when, a date is the answer, and a count is not.
    when = QueryText.of("海安是什么时候撤县设市的？")
    assert states_asked_figure(when, "2018年5月，海安撤县设市。") and states_asked_figure(when, "预计今年下半年完成。")
    assert not states_asked_figure(QueryText.of("易会满是在哪一天卸任的？"), "三是大力推动三年行动方案落地。")


def _gate_row(question: str, best: str) -> np.ndarray:
    query = analyse(question, FlatIdf())
    data = GateInput(
        query=query,
        best_sentences=[best],
        best_probs=[0.5],
        part_answers=[(query, best)],  # a simple question: its one part is the question
        top3_probs=[0.5],
        best_passage=best,
        passages=[best],
        bm25_top=5.0,
    )
    return gate_features(data, FlatIdf(), 1000)


def test_gate_sees_an_asked_figure_that_the_evidence_lacks() -> None:
    row = _gate_row("三星智能戒指的售价是多少？", "三星智能戒指首次亮相世界移动通信大会。")
    assert row[GATE_FEATURES.index("figure_missing")] == 1.0
    row = _gate_row("三星智能戒指的售价是多少？", "三星智能戒指售价为2999元。")
    assert row[GATE_FEATURES.index("figure_missing")] == 0.0


def test_gate_sees_an_asked_unit_that_the_evidence_lacks() -> None:
    row = _gate_row("园区一共有多少家企业？", "园区营收增长了12%。")
    assert row[GATE_FEATURES.index("figure_missing")] == 0.0  # a figure, but not a count of 家
    assert row[GATE_FEATURES.index("unit_missing")] == 1.0
