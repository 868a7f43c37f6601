"""Highlights: the best-supporting sentence of each claim, as offsets, adjacent ones joined."""

from __future__ import annotations

from rag.verify.highlight import highlight_spans, highlight_text

PASSAGE = "黑石BXPE基金面向富裕个人。该基金的管理费率为1.25%。业绩报酬为12.5%。此后行情分化。"


def test_each_claim_marks_its_best_sentence_and_neighbours_join() -> None:
    runs = highlight_spans(PASSAGE, ["BXPE的管理费率为1.25%[1]。", "业绩报酬为12.5%[1]。"])
    assert highlight_text(PASSAGE, runs) == "该基金的管理费率为1.25%。业绩报酬为12.5%。"


def test_sentences_apart_stay_apart() -> None:
    runs = highlight_spans(PASSAGE, ["黑石BXPE基金面向富裕个人[1]。", "业绩报酬为12.5%[1]。"])
    assert highlight_text(PASSAGE, runs) == ["黑石BXPE基金面向富裕个人。", "业绩报酬为12.5%。"]
    assert all(PASSAGE[s:e] for s, e in runs)


def test_no_claims_no_highlight() -> None:
    assert highlight_spans(PASSAGE, []) == [] and highlight_text(PASSAGE, []) == []
