"""Tests for the citation checker, including the calibration set of its threshold.

The passages are cut from the bundled corpus (data/corpus) as a chunker would; the
sentences are hand-written answers of the kinds the small LLM produces.
"""

from __future__ import annotations

import pytest

from rag.verify.citations import (
    ADD_THRESHOLD,
    SUPPORT_THRESHOLD,
    check_citations,
    claim_segments,
    is_claim,
    longest_common_substring,
    parse_markers,
    renumber,
    score_markers,
    split_sentences,
    strip_markers,
    support_score,
)

PASSAGES = {
    "A": (
        '期间美国 PE 基金的项目退出数量与回报率双双大降，导致 LP 不大愿再追加投资'
        '。黑石发布的今年二季度业绩显示，当季 LP 的资金净流入额为 170 亿美元，较'
        '去年同期减少约 77%。事实上，不只是黑石，其他美国大型 PE 基金都在悄悄调降'
        '新发基金管理费以争取 LP 资金。6 月，老虎环球基金 Tiger Global'
        ' 完成新基金 Tiger Global PrivateInvestment Pa'
        'rtners XVI 的首次关账，向逾 300 位 LP 募集约 27 亿美元资'
        '金，大幅低于募资目标值 60 亿美元。为了吸引 LP 投资，老虎环球基金主动调降'
        '这只 PE 基金管理费，参与首期募资的 LP 可以获得 1.75%管理费的优惠。'
        '红杉美国合伙人林君叡 Alfred Lin 此前表示，红杉美国也降低两只风险投资'
        '基金的管理费，以应对放缓的投资环境。值得注意的是，目前越来越多美国 PE 基金开'
        '始按照 LP 实缴资金规模收取管理费。以'
    ),
    "B": (
        '一位富豪家族办公室负责人向记者直言，受国际形势变化与地缘政治风险升级等因素影响，'
        '不少富豪开始担心黑天鹅事件发生概率上涨，对 PE/VC 等跨周期投资反而变得越来'
        '越谨慎。更重要的是，在准备进行新发基金募资前，PE 基金按惯例会先向 LP 返还'
        '部分项目退出本金收益，但过去一年多时间 PE/VC 基金普遍遭遇项目退出难，令L'
        'P 空有账面收益却没有实实在在的资金返还，很大程度影响富豪 LP 们的投资意愿。'
        'PitchBook 发布的最新 PE 退出价值数据显示，截至 6月中旬，今年以来'
        '全球 PE 机构通过项目上市或收购等退出途径，总计收获的资金不足 377 亿美元'
        '，降至过去 10 年以来的同期最低值。记者获悉，为了争取新发基金募资，越来越多美'
        '国 PE/VC 基金干脆以资产组合价值进行抵押贷款，以便在项目退出难之际仍能向 '
        'LP 返还资金。它也被称为资产净值贷款（NAV Credit）。据私募股权募集咨'
        '询公司 RedePartners 预测，'
    ),
    "C": (
        '中央经济工作会议 12 月 11 日至 12 日在北京举行。会议提出，必须坚持深'
        '化供给侧结构性改革和着力扩大有效需求协同发力，发挥超大规模市场和强大生产能力的优'
        '势，使国内大循环建立在内需主动力的基础上，提升国际循环质量和水平。在着力扩大国内'
        '需求方面，会议提到，要激发有潜能的消费，扩大有效益的投资，形成消费和投资相互促进'
        '的良性循环。推动消费从疫后恢复转向持续扩大，培育壮大新型消费，大力发展数字消费、'
        '绿色消费、健康消费，积极培育智能家居、文娱旅游、体育赛事、国货“潮品”等新的消费'
        '增长点。稳定和扩大传统消费，提振新能源汽车、电子产品等大宗消费。会议还提到，增加'
        '城乡居民收入，扩大中等收入群体规模，优化消费环境。要以提高技术、能耗、排放等标准'
        '为牵引，推动大规模设备更新和消费品以旧换新。发挥好政府投资的带动放大效应，重点支'
        '持关键核心技术攻关、新型基础设施、节能减排降碳，培育发展新动能。完善投融资机制，'
        '实施政府和社会资本合作新机制，支持社会资'
    ),
    "D": (
        '扩内需贯穿 2023 年中国经济复苏的全年。从消费复苏情况来看，消费是经济增长的'
        '重要引擎，2023 年 1—10 月份，中国社会消费品零售总额达 38.5 万亿'
        '元，同比增长 6.9%。从全年来看，随着扩内需、促消费各项政策效应持续显现，四季'
        '度消费有望继续呈现稳步恢复态势。中央经济工作会议还提到，2023 年中国经济存在'
        '“有效需求不足、部分行业产能过剩、社会预期偏弱”的问题。新的一年如何更好地“激发'
        '有潜能的消费，扩大有效益的投资，形成消费和投资相互促进的良性循环”十分重要。北京'
        '大学国民经济研究中心主任苏剑接受 21 世纪经济报道记者采访表示，从消费到投资，'
        '居民有消费预期，企业也更愿意去投资，也才可能有高效益的投资回报，从而进一步增加投'
        '资信心。企业增加投资本身，也可以增加一些从业者的收入，企业投资、居民收入增长和消'
        '费预期增长才能形成良性循环，也就是会议说的“消费和投资相互促进的良性循环”。会议'
        '提到，完善投融资机制，实施政府和社会资本'
    ),
    "E": (
        '近日，毕马威发布的《中国内地及香港 IPO 市场 2023 年第三季度回顾》报告'
        '指出，尽管今年前三季度香港 IPO 市场仅有 44 家企业 IPO 上市（募资总'
        '额为246 亿港元），较去年同期分别减少 65%与 15%。但 9月以来，港股 '
        'IPO 节奏明显加快。截至 2023 年 10 月 10 日，正在“排队”的港股'
        ' IPO 已超过 110 家。在业内人士看来，这背后，一是中国经济基本面持续好转'
        '，资本市场看好中国企业盈利能力回升与打新投资回报，无形间驱动更多企业寻求赴港上市'
        '；二是近期快递公司Instacart与芯片设计公司ARM分别赴美IPO，似乎开启'
        '了企业IPO窗口期。Renaissance Capital 的数据显示，截至 1'
        '0 月 9 日，今年以来美股 IPO 的数量与融资规模分别为 82 个与 167'
        ' 亿美元，超过 2022 年的 71 个和 77 亿美元，表明美股 IPO 市场'
        '趋于复苏。这令众多创投机构倍感鼓舞。毕竟'
    ),
    "F": (
        '一是加强对国家重大科技任务和科技型中小企业的精准支持。扩大科技创新再贷款规模。鼓'
        '励开发性政策性银行设立支持科技创新的专项金融工具。鼓励商业银行设立科技金融事业部'
        '、科技支行、科技金融专营机构等，实施差别化的管理模式和考核机制。运用“创新积分制'
        '”等政策工具，引导金融机构精准支持科技创新。完善资本市场体制机制，对承担国家重大'
        '科技任务的企业、突破关键核心技术的企业上市融资、债券发行给予倾斜性政策、开辟绿色'
        '通道。二是加快直接融资体系建设，构建同科技创新相适应的金融结构。发展多元股权融资'
        '，加快多层次债券市场发展，加快直接融资体系建设。加强资本市场基础制度建设，完善退'
        '市制度，建立起与国际接轨的运营体系。优化间接融资体系，用好结构性货币政策工具，引'
        '导政策性金融机构加大对科技创新重点领域支持力度。三是完善长期资本投早、投小、投长'
        '期、投硬科技的支持政策。研究出台放宽银行资本进入创业投资的政策，从制度上保障保险'
        '资金、社会捐赠、社保基金等长期资金能够进'
    ),
    "G": (
        '灰色套利者为了支持小微企业发展,监管一直要求银行在小微企业融资成本方面稳中有降。'
        '目前市场小微企业抵押经营贷的利率约3%左右,部分银行利率能够低至2.85%。而一'
        '些中小银行五年期的大额存单产品利率在4%以上,这其中就有接近1.2%的无风险套利'
        '空间。灰色套利者:利用经营贷投大额存单? ↗ C1高股息领涨随着上证指数在“八连'
        '阳”中收复3000点,多个行业迎来了久违的反弹,其中,最耀眼的无疑是传统能源煤炭'
        '行业。Wind数据显示,申万31个一级行业中,煤炭指数以2024年内14.74%'
        '的涨幅位居榜首。高股息板块领涨 煤炭行情是否可持续? ↗ C2AI重塑5G作为全'
        '球移动通信领域的风向标盛会,5G自然仍是本届大会的聚焦所在。但与往年不同,随着C'
        'hatGPT为代表的AI创新在过去一年多来引发的革命性浪潮,融合AI成为全球通信'
        '业的发展共识,“超越5G、智联万物”成为此次MWC的两大主题。AI重塑全球5G网'
        '络 通信业积极拥抱新趋势 ↗ D2经济大'
    ),
    "H": (
        '短期来看，对一级市场影响最大的政策无疑是对 IPO 节奏的把控。IPO 退出仍是'
        ' VC/PE 退出的最重要途径，清科数据显示，2022 年前三季度，中国股权投资'
        '市场共发生 3480 笔退出案例，其中被投企业 IPO 退出案例数量 1996 '
        '笔，占比近六成。在上市地的选择方面，A股是最为重要的退出市场。CVSource '
        '投中数据显示，2023 上半年，共计 222 家中国企业在 A股、港股以及美股 '
        'IPO。在 A 股市场，2023上半年，共计 173 家中国企业在沪深和北交所三'
        '市 IPO，占比接近八成。当证监会推出优化 IPO 的举措，VC/PE 机构所投'
        '项目的上市速度，以及现阶段的投资决策态度都将受到影响。“对原本计划在下半年报材料'
        '的被投企业来说，整个上市进程会有所推迟，它们会受到最直接的影响。”一位来自一线人'
        '民币基金的高管人士对 21 世纪经济报道说。同时，由于政策的调整，对高风险项目的'
        '容忍度有所降低，VC/PE 机构对大额亏'
    ),
}

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


# ---------------------------------------------------------- sentence splitting


def test_split_sentences_keeps_markers_before_or_after_terminator() -> None:
    text = "会议在北京举行[1]。会议在北京举行。[2] 他说：“好！”[3]\n第二行没有句号"
    assert split_sentences(text) == [
        "会议在北京举行[1]。",
        "会议在北京举行。[2]",
        "他说：“好！”[3]",
        "第二行没有句号",
    ]


def test_split_sentences_all_terminators_and_decimals() -> None:
    text = "增长6.9%；下降3.5%;  真的吗？是的!好?结束。"
    assert split_sentences(text) == ["增长6.9%；", "下降3.5%;", "真的吗？", "是的!", "好?", "结束。"]


def test_parse_markers_all_syntaxes() -> None:
    text = "a[1]b[1,2]c[1, 2]d［3］e【4】f[5][6]g［１］h[2、3]"
    assert parse_markers(text) == [1, 1, 2, 1, 2, 3, 4, 5, 6, 1, 2, 3]
    assert strip_markers(text) == "abcdefgh"


def test_years_in_brackets_are_not_markers() -> None:
    assert parse_markers("报告[2023]显示") == []


def test_list_numbering_is_not_a_figure() -> None:
    passage = "会议提出要提振新能源汽车、电子产品等大宗消费。"
    assert support_score("1. 会议提出要提振新能源汽车、电子产品等大宗消费。", passage) == 1.0
    assert support_score("（2）会议提出要提振新能源汽车、电子产品等大宗消费。", passage) == 1.0


def test_is_claim() -> None:
    assert is_claim("黑石二季度LP资金净流入170亿美元[1]。")
    assert not is_claim("综上所述。")
    assert not is_claim("根据提供的资料，答案如下：")
    assert not is_claim("## 背景")
    assert not is_claim("抱歉，资料中没有提及该基金的募资规模。")


def test_claim_segments_split_by_marker_group() -> None:
    segs = claim_segments("黑石净流入170亿美元[1]，老虎环球募集27亿美元[2]。")
    assert segs == [("黑石净流入170亿美元", [1]), ("，老虎环球募集27亿美元", [2])]


# ------------------------------------------------------------- check_citations

P = [PASSAGES["A"], PASSAGES["C"], PASSAGES["E"]]


def test_correct_marker_kept() -> None:
    r = check_citations("会议提出要提振新能源汽车、电子产品等大宗消费[2]。", P)
    assert r.text == "会议提出要提振新能源汽车、电子产品等大宗消费[2]。"
    assert (r.kept, r.moved, r.removed, r.added) == (1, 0, 0, 0)
    assert r.cited == [2]
    assert r.unsupported_sentences == []


def test_wrong_marker_moved() -> None:
    r = check_citations("黑石今年二季度LP的资金净流入额为170亿美元[3]。", P)
    assert r.text == "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
    assert (r.kept, r.moved, r.removed) == (0, 1, 0)
    action = r.sentences[0].actions[0]
    assert (action.original, action.final, action.action) == (3, 1, "moved")


def test_out_of_range_marker_removed() -> None:
    r = check_citations("港股IPO节奏明显加快[9]。", P, add_threshold=1.1)
    assert r.text == "港股IPO节奏明显加快。"
    assert (r.invalid, r.removed) == (1, 1)
    assert r.cited == []


def test_out_of_range_marker_replaced_when_strongly_supported() -> None:
    r = check_citations("截至2023年10月10日，正在排队的港股IPO已超过110家[0]。", P)
    assert r.text == "截至2023年10月10日，正在排队的港股IPO已超过110家[3]。"
    assert (r.invalid, r.removed, r.added) == (1, 1, 1)


def test_unsupported_claim_flagged_and_marker_removed() -> None:
    answer = "黑石今年二季度LP的资金净流入额为170亿美元[1]。该基金计划明年在纳斯达克上市，募资规模约50亿美元[1]。"
    r = check_citations(answer, P)
    assert r.text == "黑石今年二季度LP的资金净流入额为170亿美元[1]。该基金计划明年在纳斯达克上市，募资规模约50亿美元。"
    assert r.unsupported_sentences == ["该基金计划明年在纳斯达克上市，募资规模约50亿美元[1]。"]
    assert (r.kept, r.removed) == (1, 1)


def test_unmarked_supported_sentence_gets_marker() -> None:
    r = check_citations("老虎环球基金向逾300位LP募集约27亿美元资金！", P)
    assert r.text == "老虎环球基金向逾300位LP募集约27亿美元资金[1]！"
    assert r.added == 1 and r.cited == [1]


def test_connectives_and_refusals_not_flagged_nor_cited() -> None:
    answer = "根据提供的资料，答案如下：\n综上所述。\n资料中没有提及该基金的退出计划。"
    r = check_citations(answer, P)
    assert r.text == answer
    assert r.unsupported_sentences == []
    assert r.cited == []


def test_marker_syntaxes_normalised() -> None:
    answer = (
        "黑石今年二季度LP的资金净流入额为170亿美元。［１］"
        "会议提出要提振新能源汽车、电子产品等大宗消费【2】；"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[1, 3]。"
        "中央经济工作会议12月11日至12日在北京举行[2][2]。"
    )
    r = check_citations(answer, P)
    assert r.text == (
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
        "会议提出要提振新能源汽车、电子产品等大宗消费[2]；"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[3]。"
        "中央经济工作会议12月11日至12日在北京举行[2]。"
    )
    assert r.cited == [1, 2, 3]


def test_clause_level_markers_checked_separately() -> None:
    answer = "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[1]。"
    r = check_citations(answer, P)
    assert r.text == "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[3]。"
    assert (r.kept, r.moved) == (1, 1)


def test_layout_between_sentences_preserved() -> None:
    answer = "要点：\n\n1. 会议提出要提振新能源汽车、电子产品等大宗消费[2]。\n2. 港股IPO节奏明显加快[3]。\n"
    r = check_citations(answer, P)
    assert r.text == answer


def test_no_passages_everything_removed_and_flagged() -> None:
    r = check_citations("黑石二季度LP资金净流入170亿美元[1]。", [])
    assert r.text == "黑石二季度LP资金净流入170亿美元。"
    assert r.invalid == 1 and len(r.unsupported_sentences) == 1


def test_threshold_is_overridable() -> None:
    answer = "据毕马威报告，港股IPO自9月起明显提速[3]。"
    assert check_citations(answer, P).removed == 1
    assert check_citations(answer, P, threshold=0.3).kept == 1


# -------------------------------------------------------------------- renumber


def test_renumber_in_order_of_first_citation() -> None:
    answer = (
        "港股IPO节奏明显加快[3]。"
        "黑石今年二季度LP的资金净流入额为170亿美元[1]。"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[3]，参与首期募资的LP可以获得1.75%管理费的优惠[1]。"
    )
    r = check_citations(answer, P)
    text, mapping = renumber(r)
    assert mapping == {1: 3, 2: 1}
    assert text == (
        "港股IPO节奏明显加快[1]。"
        "黑石今年二季度LP的资金净流入额为170亿美元[2]。"
        "截至2023年10月10日，正在排队的港股IPO已超过110家[1]，参与首期募资的LP可以获得1.75%管理费的优惠[2]。"
    )


def test_renumber_sorts_groups_and_ignores_years() -> None:
    answer = "截至2023年10月10日，正在排队的港股IPO已超过110家，黑石今年二季度LP的资金净流入额为170亿美元[3][1]。报告[2023]。"
    r = check_citations(answer, P)
    text, mapping = renumber(r)
    assert mapping == {1: 1, 2: 3}
    assert text.startswith("截至2023年10月10日") and "[1][2]。" in text
    assert "[2023]" in text


@pytest.mark.parametrize("answer", ["", "   \n"])
def test_empty_answer(answer: str) -> None:
    r = check_citations(answer, P)
    assert r.text == answer and r.cited == [] and r.sentences == []


def test_score_markers_matches_checker_rule() -> None:
    sentence = "黑石二季度LP资金净流入170亿美元[1]，港股排队IPO已超过110家[2][9]。"
    scores = dict(score_markers(sentence, {1: PASSAGES["A"], 2: PASSAGES["E"]}))
    assert scores[1] >= SUPPORT_THRESHOLD and scores[2] >= SUPPORT_THRESHOLD
    assert scores[9] is None
    wrong = dict(score_markers("黑石二季度LP资金净流入170亿美元[1]。", {1: PASSAGES["E"]}))
    assert wrong[1] < SUPPORT_THRESHOLD


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


def test_paraphrased_answer_with_the_passage_figure_is_kept() -> None:
    question = "上市公司近三年累计现金分红不到年均净利润的多大比例时，大股东就不能在二级市场卖股票？"
    passage = "证监会规定，最近三年累计现金分红金额低于最近三年年均净利润30%的，控股股东不得通过二级市场减持本公司股份。"
    result = check_citations("上市公司近三年累计现金分红不到年均净利润的30%时，大股东就不能在二级市场卖股票[1]。", [passage], question=question)
    assert result.unsupported_sentences == [] and parse_markers(result.text) == [1]
