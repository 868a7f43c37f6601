"""Tests for the support score, including the calibration set of its thresholds.

The passages are cut from the bundled corpus (tests/verify/passages.py); the sentences
are hand-written answers of the kinds the small LLM produces.
"""

from __future__ import annotations

from rag.verify.support import (
    ADD_THRESHOLD,
    SUPPORT_THRESHOLD,
    SupportScorer,
    longest_common_substring,
    restates_question,
    support_score,
)
from tests.verify.passages import PASSAGES

# Supported: verbatim copies and light paraphrases (the target), plus a few heavy
# paraphrases that fall into the zone a lexical score cannot decide.
SUPPORTED = [
    ("黑石今年二季度LP的资金净流入额为170亿美元，较去年同期减少约77%。", "A"),
    ("老虎环球基金向逾300位LP募集约27亿美元资金，大幅低于60亿美元的募资目标。", "A"),
    ("参与首期募资的LP可以获得1.75%管理费的优惠。", "A"),
    ("红杉美国同样下调了两只风险投资基金的管理费，以应对放缓的投资环境。", "A"),
    ("截至6月中旬，全球PE机构今年通过上市或收购等途径退出，收获的资金不足377亿美元，为过去10年同期最低。", "B"),
    ("不少富豪担心黑天鹅事件发生概率上涨，对PE/VC等跨周期投资变得越来越谨慎。", "B"),
    ("中央经济工作会议于12月11日至12日在北京召开。", "C"),
    ("会议提出要提振新能源汽车、电子产品等大宗消费。", "C"),
    ("会议要求大力发展数字消费、绿色消费和健康消费。", "C"),
    ("2023年1至10月，中国社会消费品零售总额达到38.5万亿元，同比增长6.9%。", "D"),
    ("苏剑表示，居民有消费预期，企业也更愿意投资。", "D"),
    ("今年前三季度香港IPO市场仅有44家企业上市，募资总额为246亿港元。", "E"),
    ("截至2023年10月10日，正在排队的港股IPO已超过110家。", "E"),
    ("要扩大科技创新再贷款规模，鼓励商业银行设立科技支行等科技金融专营机构。", "F"),
    ("小微企业抵押经营贷的利率约3%左右，部分银行低至2.85%。", "G"),
    ("清科数据显示，2022年前三季度中国股权投资市场共发生3480笔退出案例，其中IPO退出1996笔，占比近六成。", "H"),
    ("IPO退出仍是VC/PE退出的最重要途径。", "H"),
    ("毕马威报告称，9月以来港股IPO的节奏明显加快。", "E"),
    ("黑石二季度LP资金净流入170亿美元，比去年同期减少约77%。", "A"),
    ("越来越多美国PE基金开始按照LP实缴资金规模收取管理费。", "A"),
    ("会议提出，要推动大规模设备更新和消费品以旧换新。", "C"),
    ("鼓励开发性政策性银行设立支持科技创新的专项金融工具。", "F"),
    # heavy paraphrases (reordered, synonyms)
    ("老虎环球基金于2023年6月完成新基金的首次关账。", "A"),  # reordered, year added
    ("据毕马威报告，港股IPO自9月起明显提速。", "E"),
    ("会议强调扩大国内需求，让消费与投资相互促进、形成良性循环。", "C"),
    ("黑石二季度LP净流入资金同比下滑约77%，仅170亿美元。", "A"),
    ("PitchBook数据表明，今年全球PE退出所得资金不到377亿美元，是十年来同期最低。", "B"),
    ("老虎环球新基金的首次关账募得约27亿美元，远不及60亿美元的目标。", "A"),
]
HEAVY_PARAPHRASES = 6  # the last entries above

UNSUPPORTED = [
    # right sentence, wrong passage (same article or another one)
    ("黑石今年二季度LP的资金净流入额为170亿美元，较去年同期减少约77%。", "B"),
    ("截至6月中旬，全球PE机构今年通过上市或收购等途径退出，收获的资金不足377亿美元，为过去10年同期最低。", "A"),
    ("中央经济工作会议于12月11日至12日在北京召开。", "D"),
    ("2023年1至10月，中国社会消费品零售总额达到38.5万亿元，同比增长6.9%。", "C"),
    ("清科数据显示，2022年前三季度中国股权投资市场共发生3480笔退出案例，其中IPO退出1996笔，占比近六成。", "E"),
    ("今年前三季度香港IPO市场仅有44家企业上市，募资总额为246亿港元。", "H"),
    ("不少富豪担心黑天鹅事件发生概率上涨，对PE/VC等跨周期投资变得越来越谨慎。", "A"),
    ("会议提出要提振新能源汽车、电子产品等大宗消费。", "D"),
    ("要扩大科技创新再贷款规模，鼓励商业银行设立科技支行等科技金融专营机构。", "C"),
    ("小微企业抵押经营贷的利率约3%左右，部分银行低至2.85%。", "E"),
    ("王青认为，2024年各部门将更加重视促消费，财政支持力度可能加大。", "D"),  # past the chunk end
    # changed figures
    ("黑石今年二季度LP的资金净流入额为270亿美元，较去年同期减少约57%。", "A"),
    ("今年前三季度香港IPO市场仅有84家企业上市，募资总额为346亿港元。", "E"),
    ("清科数据显示，2022年前三季度中国股权投资市场共发生4480笔退出案例。", "H"),
    # invented claims
    ("该基金计划明年在纳斯达克上市，募资规模约50亿美元。", "A"),
    ("会议决定将个人所得税起征点提高到每月8000元。", "C"),
    ("北交所将在明年推出做市商制度以提高流动性。", "E"),
    ("红杉美国提高了旗下风险投资基金的管理费。", "B"),
    ("苏剑认为2024年财政将大规模发放消费券。", "C"),
    ("港股IPO节奏明显放缓，排队企业不足50家。", "E"),
    ("政府将设立规模为1000亿元的科技创新基金。", "F"),
    ("黑石今年二季度的管理费收入同比增长约20%。", "A"),
    ("美国IPO市场的回暖令LP愿意继续追加投资。", "A"),
    ("毕马威预计四季度港股IPO募资额将超过500亿港元。", "E"),
    ("苏剑表示，企业投资意愿下降导致居民收入减少。", "D"),
    # invented claims on the passage's own topic: the lexical overlap zone
    ("美国PE基金普遍通过发行债券来返还LP资金。", "B"),
    ("黑石宣布将大幅提高新发基金的管理费。", "A"),
    ("会议提出要压缩新型基础设施领域的社会资本投入。", "C"),
    ("商业银行将全面退出科技金融专营机构的设立。", "F"),
]


# ------------------------------------------------------------------ calibration


def test_calibration_set_size() -> None:
    assert len(SUPPORTED) + len(UNSUPPORTED) == 57


def test_light_paraphrases_clear_the_add_threshold() -> None:
    light = SUPPORTED[:-HEAVY_PARAPHRASES]
    scores = [support_score(s, PASSAGES[k]) for s, k in light]
    assert min(scores) >= ADD_THRESHOLD


def test_clear_negatives_score_far_below_threshold() -> None:
    clear = UNSUPPORTED[:-4]
    scores = [support_score(s, PASSAGES[k]) for s, k in clear]
    assert max(scores) < SUPPORT_THRESHOLD - 0.05


def test_threshold_error_budget_on_calibration_set() -> None:
    """The documented calibration: at most 2 false rejections and 2 false accepts."""
    false_reject = [s for s, k in SUPPORTED if support_score(s, PASSAGES[k]) < SUPPORT_THRESHOLD]
    false_accept = [s for s, k in UNSUPPORTED if support_score(s, PASSAGES[k]) >= SUPPORT_THRESHOLD]
    assert len(false_reject) <= 2, false_reject
    assert len(false_accept) <= 2, false_accept


# -------------------------------------------------------------- support score


def test_support_score_normalises_width_spacing_and_markers() -> None:
    passage = "会议在北京举行，共有 ３００ 位代表参加。"
    assert support_score("会议在北京举行，共有300位代表参加[1]。", passage) == 1.0
    assert support_score("ＩＰＯ 退出", "ipo退出") == 1.0


def test_support_score_penalises_changed_figure_not_year() -> None:
    passage = "6 月，老虎环球基金完成新基金的首次关账，募集约 27 亿美元。"
    assert support_score("老虎环球基金募集约37亿美元。", passage) < 0.2
    assert support_score("2023年6月，老虎环球基金募集约27亿美元。", passage) > 0.6


def test_support_score_empty_inputs() -> None:
    assert support_score("", "任何内容") == 0.0
    assert support_score("内容", "") == 0.0


def test_longest_common_substring() -> None:
    assert longest_common_substring("abcdef", "zzcdezz") == 3
    assert longest_common_substring("", "abc") == 0
    assert longest_common_substring("会议在北京举行", "会议在北京举行") == 7


def test_list_numbering_is_not_a_figure() -> None:
    passage = "会议提出要提振新能源汽车、电子产品等大宗消费。"
    assert support_score("1. 会议提出要提振新能源汽车、电子产品等大宗消费。", passage) == 1.0
    assert support_score("（2）会议提出要提振新能源汽车、电子产品等大宗消费。", passage) == 1.0


# ------------------------------------------------- answers that restate the question


def test_restated_question_words_need_no_support() -> None:
    question = "今年前10个月全国消费品零售额累计是多少？"
    passage = "2023 年 1—10 月份，中国社会消费品零售总额达 38.5 万亿元，同比增长 6.9%。"
    claim = "今年前10个月全国消费品零售额累计是38.5万亿元。"
    assert support_score(claim, passage, question) >= SUPPORT_THRESHOLD > support_score(claim, passage)


def test_answer_part_of_a_restating_claim_is_checked_whole() -> None:
    """"…最长干5年" restates "…最长干几年？": the passage must hold "5年", not "干5"."""
    question = "科技伦理审查委员会的委员一届最长干几年？"
    passage = "委员会人数应不少于7人，设主任委员1人。委员任期不超过5年，可以连任。"
    assert support_score("委员一届最长干5年。", passage, question) >= SUPPORT_THRESHOLD
    assert support_score("委员一届最长干5年。", passage) < SUPPORT_THRESHOLD
    # The added part must still be in the passage: a changed figure or a new word is not.
    assert support_score("委员一届最长干8年。", passage, question) < SUPPORT_THRESHOLD
    assert support_score("委员一届最长干到退休为止。", passage, question) < SUPPORT_THRESHOLD


# ------------------------------------------------------------------ scorer


def test_scorer_gives_the_support_score_of_each_passage() -> None:
    passages = [PASSAGES["A"], PASSAGES["C"], PASSAGES["E"]]
    question = "中央经济工作会议在哪里开？"
    claim = "中央经济工作会议于12月11日至12日在北京召开。"
    scorer = SupportScorer(passages, question)
    assert len(scorer) == 3
    assert scorer.scores(claim) == [support_score(claim, p, question) for p in passages]
    assert scorer.best(claim) == (2, support_score(claim, PASSAGES["C"], question))


def test_scorer_without_passages() -> None:
    scorer = SupportScorer([])
    assert len(scorer) == 0
    assert scorer.scores("黑石二季度LP资金净流入170亿美元。") == []
    assert scorer.best("黑石二季度LP资金净流入170亿美元。") == (None, 0.0)


def test_an_answer_that_only_repeats_the_question_restates_it() -> None:
    question = "为什么说Sora对手里有大量网文IP的公司是利好？"
    assert restates_question("Sora对手里有大量网文IP的公司是利好[1]。", question)
    assert not restates_question(
        "因为短剧每集只有1—10分钟，Sora这类文生视频模型能提高短剧制作效率，所以对网文IP公司是利好[1]。", question
    )


def test_a_short_answer_with_a_new_name_or_figure_is_not_a_restatement() -> None:
    assert not restates_question("刘昊飞[1]。", "盛景嘉成的创始合伙人叫什么名字？")
    assert not restates_question("增长2.5%[1]。", "7月社会消费品零售总额同比增长多少？")
    assert not restates_question("", "什么？")  # empty answers are refused as empty, elsewhere
