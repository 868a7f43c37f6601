"""An answer that asserts a question term its sources lack is caught (real index idf)."""

from __future__ import annotations

from rag.query import Query, analyse
from rag.verify.answerability import entity_present, missing_specifics, near_misses, unsupported_question_terms


class Flat:
    """near_misses reads only the question's text and years: any vocabulary will do."""

    def idf(self, token: str) -> float:
        return 1.0


def q(text: str) -> Query:
    return analyse(text, Flat())

LUCKIN = "瑞幸咖啡2023年总净收入为248.6亿元，同比增长87.3%，门店总数达16248家。"


def test_question_terms_skip_question_words(service) -> None:
    terms = analyse("瑞幸咖啡2023年全年的净利润是多少？", service.snapshot().idf).terms
    assert "净利润" in terms and "瑞幸" in terms
    assert not {"多少", "全年", "2023"} & set(terms)


def test_neighbouring_figure_passed_off_as_the_asked_one_is_caught(service) -> None:
    missing = unsupported_question_terms(
        analyse("瑞幸咖啡2023年全年的净利润是多少？", service.snapshot().idf), "瑞幸咖啡2023年全年的净利润为248.6亿元[1]。", [LUCKIN]
    )
    assert missing and all("净利" in term for term in missing)


def test_supported_answer_passes(service) -> None:
    assert not unsupported_question_terms(
        analyse("瑞幸咖啡2023年的总净收入是多少？", service.snapshot().idf), "瑞幸咖啡2023年总净收入为248.6亿元[1]。", [LUCKIN]
    )


def test_terms_the_answer_does_not_assert_are_not_held_against_it(service) -> None:
    # A terse answer asserts no question term: nothing to check here (the citation check covers the figure).
    assert not unsupported_question_terms(
        analyse("瑞幸咖啡2023年全年的净利润是多少？", service.snapshot().idf), "248.6亿元[1]。", [LUCKIN])


# --------------------------------------------------------------------------- near misses
XICHENG = "数据显示，近五年来，西城区金融业增加值由2018年的1780.1亿元，增长到2022年的3088.7亿元，年均增速8.2%。"
TIGER = "6月，老虎环球基金完成新基金的首次关账，向逾300位LP募集约27亿美元资金，大幅低于募资目标值60亿美元。"
NANJING = "今年上半年，南京高新区实现地区生产总值2137.52亿元，同比增长6.2%。"


def test_figure_from_another_year_is_a_near_miss() -> None:
    reasons = near_misses(q("北京西城区2023年的金融业增加值是多少？"), "西城区2023年的金融业增加值为3088.7亿元[1]。", [XICHENG])
    assert reasons and "2022" in reasons[0]


def test_figure_for_the_asked_year_passes() -> None:
    assert not near_misses(q("北京西城区2022年的金融业增加值是多少？"), "西城区2022年金融业增加值为3088.7亿元[1]。", [XICHENG])


def test_figure_of_another_measure_is_a_near_miss() -> None:
    reasons = near_misses(q("瑞幸咖啡2023年全年的净利润是多少？"), "瑞幸咖啡2023年的净利润为248.6亿元[1]。", [LUCKIN])
    assert reasons and "revenue" in reasons[0] and "profit" in reasons[0]


def test_figure_of_the_asked_measure_in_other_words_passes() -> None:
    # 营收 and 净收入 are one measure: a paraphrase is not a near miss.
    assert not near_misses(q("瑞幸咖啡2023年营收多少？"), "瑞幸咖啡2023年总净收入为248.6亿元[1]。", [LUCKIN])


def test_first_close_is_not_the_final_close() -> None:
    reasons = near_misses(q("老虎环球基金最终关账时一共募集了多少资金？"), "最终募集约27亿美元[1]。", [TIGER])
    assert reasons and "first_close" in reasons[0]
    assert not near_misses(q("老虎环球基金首次关账募集了多少资金？"), "首次关账募集约27亿美元[1]。", [TIGER])


def test_half_year_figure_does_not_answer_the_full_year() -> None:
    assert near_misses(q("南京高新区2023年全年的地区生产总值是多少？"), "地区生产总值为2137.52亿元[1]。", [NANJING])
    assert not near_misses(q("南京高新区上半年的地区生产总值是多少？"), "地区生产总值为2137.52亿元[1]。", [NANJING])


def test_figures_not_in_any_passage_are_left_to_the_citation_check() -> None:
    assert not near_misses(q("瑞幸咖啡2023年全年的净利润是多少？"), "净利润为99.9亿元[1]。", [LUCKIN])


def test_one_sentence_that_fits_is_enough() -> None:
    other = "2023年，西城区金融业增加值达到3088.7亿元。"
    assert not near_misses(q("北京西城区2023年的金融业增加值是多少？"), "3088.7亿元[1]。", [XICHENG, other])


def test_an_answer_with_one_fitting_figure_is_not_a_near_miss() -> None:
    # The 2022 figure answers; the 2018 one is context the answer may carry along.
    answer = "西城区金融业增加值由2018年的1780.1亿元增长到2022年的3088.7亿元[1]。"
    assert not near_misses(q("北京西城区2022年的金融业增加值是多少？"), answer, [XICHENG])


# ------------------------------------------------------------------ names and days asked about


def test_a_name_is_found_whole_or_without_its_generic_ending() -> None:
    assert entity_present("黑龙江省", "黑龙江五常市已转移受灾群众近2万人")
    assert entity_present("舒兰市", "舒兰当地陆续转移受灾群众14380人")
    assert not entity_present("白云机场", "首都机场客流量大幅攀升")  # not through a sub-word
    assert not entity_present("宁夏", "上海市民营企业进出口实现两位数增速")


class Rare:
    """Every word specific enough to count as a name."""

    def idf(self, token: str) -> float:
        return 5.0


def test_missing_specifics_names_the_sibling_entity_and_the_other_day() -> None:
    sibling = analyse("科大讯飞上半年营业收入是多少？", Rare())
    assert missing_specifics(sibling, "宁德时代上半年整体实现营业收入1892.46亿元") == ["科大"]
    assert missing_specifics(sibling, "科大讯飞上半年营业收入78.42亿元") == []
    other_day = analyse("7月29日生猪价格跌到了多少？", Rare())
    assert missing_specifics(other_day, "8月3日生猪价格达17.61元/公斤") == ["7月29日"]
    assert missing_specifics(other_day, "新华社7月30日电 29日，生猪价格跌至20.64元") == []
    compound = analyse("科大讯飞上半年营业收入是多少？又比去年增长了多少？", Rare())
    assert compound.parts and missing_specifics(compound, "宁德时代上半年整体实现营业收入1892.46亿元") == []


def test_a_name_is_found_through_the_other_name_its_corpus_defines():
    from rag.index.tokenize import EMPTY_LEXICON, Lexicon, active_lexicon, use_lexicon
    from rag.text.normalize import compact

    source = compact("根据中国汽车工业协会最新消息，2023年中国汽车出口491万辆。")
    before = active_lexicon()
    try:
        use_lexicon(EMPTY_LEXICON)
        assert not entity_present("中汽协", source)
        use_lexicon(Lexicon(words={"中汽协": "j"}, aliases={"中汽协": ("中国汽车工业协会",)}))
        assert entity_present("中汽协", source)
        assert not entity_present("中汽协", compact("乘联会数据显示，乘用车出口增长。"))  # another body's figure
    finally:
        use_lexicon(before)
