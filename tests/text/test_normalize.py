"""The one normaliser's three strengths."""

from __future__ import annotations

from rag.text.normalize import char_ngrams, compact, content_chars, fold, word_chars


def test_fold_unifies_width_and_case() -> None:
    assert fold("ＧＤＰ增长２０２３") == "gdp增长2023"


def test_compact_drops_space_and_markers() -> None:
    assert compact("BXPE 基金[1] 管理费【2】\n1.25%") == "bxpe基金管理费1.25%"


def test_content_chars_keeps_decimals_and_percent_and_drops_separators() -> None:
    assert content_chars("营收3,480亿元，增长6.9 %[1]。") == "营收3480亿元增长6.9%"
    assert content_chars("结束.") == "结束"


def test_word_chars_and_ngrams() -> None:
    assert word_chars("黑石，BXPE！") == "黑石BXPE"
    assert char_ngrams("abc", 2) == {"ab", "bc"}
