"""The one sentence splitter: spans, markers kept with their sentence, pieces that join back."""

from __future__ import annotations

import pytest

from rag.text.sentences import ends_sentence, sentence_pieces, sentence_spans, split_sentences


def test_spans_point_at_the_sentences_without_surrounding_space() -> None:
    text = "  第一句。第二句！\n第三句？ 第四句"
    spans = sentence_spans(text)
    assert [text[s:e] for s, e in spans] == ["第一句。", "第二句！", "第三句？", "第四句"]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("举行。[1] 然后散会。", ["举行。[1]", "然后散会。"]),
        ("举行[1]。然后[2][3]。", ["举行[1]。", "然后[2][3]。"]),
        ("他说：“好。”然后走了。", ["他说：“好。”", "然后走了。"]),
        ("下一句…再来", ["下一句…", "再来"]),
        ("增长6.9%，排名第1.", ["增长6.9%，排名第1."]),
        ("1. 第一条\n2、第二条", ["1. 第一条", "2、第二条"]),
        ("【1】记者报道。", ["【1】记者报道。"]),
        ("", []),
    ],
)
def test_split(text: str, expected: list[str]) -> None:
    assert split_sentences(text) == expected


def test_pieces_join_back_exactly() -> None:
    text = "甲。 乙！\n\n丙[1]。丁"
    pieces = sentence_pieces(text)
    assert "".join(pieces) == text
    assert pieces == ["甲。", " 乙！", "\n\n丙[1]。", "丁"]


def test_ends_sentence_looks_past_closers() -> None:
    assert ends_sentence("他说：“好。”")
    assert ends_sentence("完了…")
    assert not ends_sentence("未完，")
    assert not ends_sentence("")
