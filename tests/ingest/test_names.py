"""Names learned from the corpus (rag.ingest.names): what the patterns find, what the
lexicon keeps, and what the bundled corpus teaches."""

from __future__ import annotations

from collections import Counter

import pytest

from rag.config import PROJECT_ROOT
from rag.index.tokenize import tokenizer_for, tokenize
from rag.ingest.names import FULL, MIN_QUOTED, QUOTED, SHORT, TITLE, NameFinding, build_lexicon, find_names
from rag.ingest.pipeline import articles_from_file

CORPUS = PROJECT_ROOT / "data" / "corpus"


def test_a_defined_abbreviation_gives_both_names_and_what_it_stands_for():
    found = find_names("该公司并获得中国证券监督管理委员会（以下简称“中国证监会”）核准，随后中国证监会发布公告。")
    assert found[NameFinding("中国证监会", SHORT, "中国证券监督管理委员会")] == 1
    assert found[NameFinding("中国证券监督管理委员会", FULL)] == 1


def test_the_full_name_reaches_back_past_a_word_jieba_reads_as_a_verb():
    found = find_names("私募机构上海迎水投资管理有限公司（以下简称“上海迎水”）收到罚单。")
    assert NameFinding("上海迎水", SHORT, "上海迎水投资管理有限公司") in found


def test_several_abbreviations_in_one_definition():
    found = find_names("中国生物多样性保护与绿色发展基金会（简称“中国绿发会”“绿会”）提起诉讼。")
    shorts = {f.name for f in found if f.kind == SHORT}
    assert shorts == {"中国绿发会", "绿会"}


def test_an_abbreviation_of_an_unrelated_name_is_not_an_alias():
    # What precedes the bracket shares nothing with the abbreviation but its generic ending.
    found = find_names("伊顿(中国)投资有限公司（以下简称“伊顿公司”）宣布扩产。")
    assert not any(f.kind == SHORT for f in found)
    assert NameFinding("伊顿公司", QUOTED) in found


def test_titles_and_quoted_terms():
    found = find_names("《全国智慧旅游发展报告2023》显示，“数字员工”已上岗，“数字员工”承担了大量工作。")
    assert found[NameFinding("全国智慧旅游发展报告2023", TITLE)] == 1
    assert found[NameFinding("数字员工", QUOTED)] == 2


def test_lexicon_keeps_recurring_quotes_and_drops_words_jieba_knows():
    once = Counter({NameFinding("金服十条", QUOTED): 1, NameFinding("负面清单", QUOTED): MIN_QUOTED})
    lexicon = build_lexicon(once.items())
    assert "金服十条" not in lexicon.words  # quoted once: as often emphasis as a name
    twice = build_lexicon(Counter({NameFinding("金服十条", QUOTED): MIN_QUOTED}).items())
    assert twice.words == {"金服十条": "nz"}
    known = build_lexicon(Counter({NameFinding("证监会", QUOTED): 5}).items())
    assert known.words == {}  # jieba keeps it whole already


def test_aliases_go_both_ways_and_not_for_a_common_word():
    lexicon = build_lexicon([
        (NameFinding("中汽协", SHORT, "中国汽车工业协会"), 1),
        (NameFinding("公司", SHORT, "宁德时代新能源科技股份有限公司"), 1),
    ])
    assert lexicon.others("中汽协") == ("中国汽车工业协会",)
    assert lexicon.others("中国汽车工业协会") == ("中汽协",)
    assert lexicon.others("公司") == ()  # "以下简称公司" names nothing
    assert lexicon.words["中汽协"] == "j"
    assert "中国汽车工业协会" not in lexicon.words  # jieba knows it: an alias, not a new word


def test_an_abbreviation_defined_for_too_many_things_is_no_alias():
    fulls = ["甲乙丙集团有限公司", "丁戊己集团有限公司", "庚辛壬集团有限公司", "子丑寅集团有限公司"]
    lexicon = build_lexicon([(NameFinding("本集团", SHORT, f), 1) for f in fulls])
    assert lexicon.others("本集团") == ()


@pytest.fixture(scope="module")
def bundled_lexicon():
    found: Counter[NameFinding] = Counter()
    for path in sorted(CORPUS.glob("*.txt")):
        for article in articles_from_file(path, path.name):
            found.update(find_names(f"{article.title}\n{article.text}"))
    return build_lexicon(found.items())


def test_the_bundled_corpus_teaches_its_names(bundled_lexicon):
    assert bundled_lexicon.others("宁波城投集团") == ("宁波城建投资集团有限公司",)
    assert bundled_lexicon.others("中基协") == ("中国证券投资基金业协会",)
    assert bundled_lexicon.words["SIM数字身份"] == "nz"  # quoted in two articles
    # jieba cuts the name into common words; with the lexicon it is also one token.
    assert "宁波城投集团" not in tokenize("宁波城投集团发行了数字藏品")
    assert "宁波城投集团" in tokenizer_for(bundled_lexicon)("宁波城投集团发行了数字藏品")


def test_a_number_names_nothing():
    lexicon = build_lexicon([
        (NameFinding("2023", SHORT, "2023深圳国际新能源及智能网联汽车全产业博览会"), 1),
        (NameFinding("23", QUOTED), 5),
    ])
    assert lexicon.others("2023") == () and "23" not in lexicon.words and "2023" not in lexicon.words
