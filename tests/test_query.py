"""The question analysed once: tokens, parts, the asked figure, years, specific terms."""

from __future__ import annotations

import pytest

from rag.query import DateRef, analyse, expected_figure, question_dates, question_entities, split_subquestions


class FlatIdf:
    """Every term equally specific, except the ones listed as common."""

    def __init__(self, common: set[str] = frozenset()):
        self.common = common

    def idf(self, token: str) -> float:
        return 0.5 if token in self.common else 5.0


def test_a_simple_question_has_no_parts() -> None:
    query = analyse("黑石BXPE基金的管理费是多少？", FlatIdf())
    assert query.parts == ()
    assert query.part_texts == ["黑石BXPE基金的管理费是多少？"]
    assert "管理费" in query.tokens and "bxpe" in query.tokens
    assert query.asks_figure
    assert query.focuses == [None]


def test_a_compound_question_is_analysed_per_part() -> None:
    query = analyse("一共融资了多少钱？比上年同期变化多大？", FlatIdf())
    assert [p.text for p in query.parts] == ["一共融资了多少钱？", "比上年同期变化多大？"]
    assert all(p.tokens for p in query.parts)


def test_terms_skip_question_words_common_words_and_digits() -> None:
    query = analyse("瑞幸咖啡2023年全年的净利润是多少？", FlatIdf(common={"咖啡"}))
    assert "净利润" in query.terms and "瑞幸" in query.terms
    assert "全年" not in query.terms and "咖啡" not in query.terms and "2023" not in query.terms
    assert list(query.terms) == sorted(query.terms, key=len, reverse=True)
    assert query.years == {"2023"}


@pytest.mark.parametrize(
    ("question", "matches", "other"),
    [
        ("有多少家企业参加？", "共有110家企业", "增长12%"),
        ("全程多长？", "全长12公里", "耗资3亿元"),
        ("民生银行“易创E贷”的贷款年利率是多少？", "年利率低至3.2%", "提供了400万元资金支持"),
        ("“宁科贷”的不良贷款率控制在多少？", "不良率控制在1个百分点以内", "发放贷款7277笔"),
        ("搭载氢发动机的传祺E9氢混版卖多少钱？", "售价32.98万元起", "搭载2.0L氢发动机"),
        ("美光上一季营收多少？", "营收47.3亿美元", "同比增长15.6%"),
        ("中国移动呼和浩特智算中心的总投资是多少？", "总投资约100亿元", "算力规模可达到5.5EFLOPS"),
        ("还在等着去香港上市的公司有多少家？", "已超过110家", "募资246亿港元"),
        ("崂山区已经建成多长的数字道路？", "共14公里的数字道路", "汇集数据16亿余条"),
        ("每季度算一次利息要跑多久？", "从140分钟降至25分钟", "减少30%"),
        ("市场占有率有多高？", "占有越南市场80%份额", "保有量达到4500万辆"),
    ],
)
def test_expected_figure_follows_the_asked_unit(question: str, matches: str, other: str) -> None:
    pattern = expected_figure(question)
    assert pattern is not None and pattern.search(matches) and not pattern.search(other)


def test_no_expected_unit_for_open_questions() -> None:
    assert expected_figure("大润发方面是怎么解释的？") is None


def test_split_subquestions_keeps_a_single_question_whole() -> None:
    assert split_subquestions("大润发方面是怎么解释的？") == ["大润发方面是怎么解释的？"]
    assert len(split_subquestions("上半年营收多少，又同比增长了多少？")) == 2


@pytest.mark.parametrize(
    ("question", "dates"),
    [
        ("8月4日全国农产品批发市场猪肉平均价格是多少？", ["8月4日"]),
        ("截至8月4日15时，舒兰市平均降雨量是多少？", ["8月4日"]),  # "截至" is not a range
        ("6月份CPI中食品价格同比上涨了多少？", ["6月"]),
        ("7月24日纽约商品交易所8月黄金期货收于每盎司多少美元？", ["7月24日", "8月"]),
        ("8月3号生猪价格达到了多少？", ["8月3日"]),
        ("1月至6月中国累计出口啤酒多少？", []),  # a range names no single month
        ("1-7月黑龙江省进出口企业享受的关税减让超过多少？", []),
        ("1至7月北京天竺综保区实现进出口多少？", []),
        ("美联储7月25日至26日的会议决定了什么？", []),
    ],
)
def test_question_dates_are_single_days_and_months(question: str, dates: list[str]) -> None:
    assert [d.text for d in question_dates(question)] == dates


def test_a_day_is_found_alone_after_the_dateline_and_a_month_whole() -> None:
    day, month = DateRef(8, 4), DateRef(7)
    assert day.found_in("新华社北京8月5日电4日，全国猪肉平均价格为22.17元") and day.found_in("8月4日猪价")
    assert not day.found_in("8月14日猪价") and not day.found_in("7月24日猪价")
    assert month.found_in("7月份cpi") and not month.found_in("17月") and not month.found_in("6月份cpi")


def test_question_entities_are_the_names_it_asks_about() -> None:
    assert question_entities("科大讯飞上半年营业收入是多少？", FlatIdf()) == ("科大",)
    assert "stellantis" in question_entities("Stellantis集团上半年净营收是多少？", FlatIdf())
    assert "宋佳媛" in question_entities("成都大运会女子铅球冠军宋佳媛的夺金成绩是多少？", FlatIdf())
    assert question_entities("黑龙江五常市转移了多少受灾群众？", FlatIdf())[0] == "黑龙江"


def test_question_entities_skip_common_words_and_jieba_guesses_at_lists() -> None:
    # "普通" is tagged nz in jieba's dictionary; "沪深北" yields the guessed place "深北";
    # "和中微" is a conjunction glued to a name.
    assert "普通" not in question_entities("按Yole的说法，2024年HBM比普通DRAM内存贵几倍？", FlatIdf())
    assert "深北" not in question_entities("2023年上半年在A股（沪深北三地交易所）上市的中国公司有多少家？", FlatIdf())
    assert question_entities("盛美上海和中微公司2023年营收分别是多少？", FlatIdf()) == ("盛美", "上海", "中微")
    assert question_entities("日本的外汇储备大约有多少？", FlatIdf({"日本"})) == ()  # too common to tell topics apart
