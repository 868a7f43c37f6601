"""The process's jieba dictionary and the index's user dictionary (rag.index.tokenize)."""

from __future__ import annotations

import pytest

from rag.index.tokenize import (
    EMPTY_LEXICON,
    Lexicon,
    active_lexicon,
    query_tokens,
    tag,
    tokenize,
    tokenizer_for,
    use_lexicon,
)

TEXTS = (
    "宁波城投集团发行数字藏品，宁波城建投资集团有限公司回应。",
    "中汽协数据显示，中国汽车工业协会统计口径下出口491万辆。",
    "“金服十条”出台后，SIM数字身份用户达到285万。",
)
LEXICON = Lexicon(
    words={"宁波城投集团": "j", "宁波城建投资集团有限公司": "nt", "金服十条": "nz", "SIM数字身份": "nz", "中汽协": "j"},
    aliases={"中汽协": ("中国汽车工业协会",), "中国汽车工业协会": ("中汽协",)},
)


@pytest.fixture(autouse=True)
def restore_lexicon():
    before = active_lexicon()
    yield
    use_lexicon(before)


def test_a_lexicon_keeps_its_names_whole_in_both_cuts():
    use_lexicon(EMPTY_LEXICON)
    assert "宁波城投集团" not in tokenize(TEXTS[0])
    use_lexicon(LEXICON)
    assert "宁波城投集团" in tokenize(TEXTS[0])
    assert "sim数字身份" in tokenize(TEXTS[2])  # tokens are lower-cased; the word is added in both cases
    assert ("宁波城投集团", "j") in tag(TEXTS[0])
    assert ("sim数字身份", "nz") in tag(TEXTS[2])


def test_swapping_lexicons_restores_jiebas_own_cuts_exactly():
    use_lexicon(EMPTY_LEXICON)
    plain = [(tokenize(t), tag(t)) for t in TEXTS]
    use_lexicon(LEXICON)
    use_lexicon(Lexicon(words={"数字藏品": "nz"}))
    use_lexicon(EMPTY_LEXICON)
    assert [(tokenize(t), tag(t)) for t in TEXTS] == plain


def test_an_ingest_cuts_as_the_served_lexicon_will():
    use_lexicon(Lexicon(words={"数字藏品": "nz"}))  # what the process serves meanwhile
    cut = tokenizer_for(LEXICON)
    assert active_lexicon() == Lexicon(words={"数字藏品": "nz"})  # not put in use
    ingest_tokens = [cut(t) for t in TEXTS]
    use_lexicon(LEXICON)
    assert [tokenize(t) for t in TEXTS] == ingest_tokens


def test_a_question_also_looks_for_the_other_name():
    use_lexicon(LEXICON)
    question = "按中汽协的数据，去年汽车出口多少辆？"
    tokens = query_tokens(question)
    # The other name as one word, as a passage holding it is cut; not its pieces (中国, 协会).
    assert tokens == [*tokenize(question), "中国汽车工业协会"]
    assert query_tokens("去年汽车出口多少辆？") == tokenize("去年汽车出口多少辆？")
