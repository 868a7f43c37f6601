"""Cleaning of PDF-extracted Chinese text: spaces, page furniture, hard wraps."""

from __future__ import annotations

import pytest

from rag.ingest.clean import (
    clean_text,
    is_furniture,
    normalize_spaces,
    repeated_headers,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("21 世纪经济报道", "21世纪经济报道"),
        ("2023 上半年", "2023上半年"),
        ("对 21 世纪经济报道说。", "对21世纪经济报道说。"),
        ("2023 年 12 月 18 日", "2023年12月18日"),
        ("VC/PE 机构正在进行投", "VC/PE机构正在进行投"),
        ("黑石 BXPE 将收取 1.25%", "黑石BXPE将收取1.25%"),
        ("Fund （下称 BXPE）", "Fund（下称BXPE）"),
        ("  两端空格  ", "两端空格"),
    ],
)
def test_spaces_next_to_cjk_are_removed(raw: str, expected: str):
    assert normalize_spaces(raw) == expected


@pytest.mark.parametrize(
    "latin",
    ["Blackstone Private Equity", "Blackstone Private Equity Strategies Fund", "1.5% 2%", "AI for Science"],
)
def test_latin_text_keeps_its_spaces(latin: str):
    assert normalize_spaces(latin) == latin
    assert normalize_spaces(f"黑石重启 {latin} 募集") == f"黑石重启{latin}募集"


def test_multiple_latin_spaces_collapse():
    assert normalize_spaces("Blackstone   Private \t Equity") == "Blackstone Private Equity"


@pytest.mark.parametrize("line", ["12", " 7 ", "- 3 -", "—12—", "第 5 页", "第5页", "A4", "B12", "A1~A8"])
def test_page_numbers_are_furniture(line: str):
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    ["图片来源：视觉中国", "图片来源: 新华社", "视觉中国/图", "本报资料室/图", "张三/摄", "视觉中国供图", "图为青岛虚拟现实共享中心。"],
)
def test_image_credits_are_furniture(line: str):
    assert is_furniture(line)


@pytest.mark.parametrize(
    "line",
    [
        "2023年全国交通固定资产投资完成3.9万亿元",
        "来源：21 世纪经济报道",
        "本报记者 谭志娟 北京报道",
        "专家：促进新经济新业态新就业联动发展",
        "1993 年，狮城之国新加坡与中国无锡市合作。",
        "图书馆的数字化改造正在推进。",  # starts with 图 but is not a caption
    ],
)
def test_article_lines_are_not_furniture(line: str):
    assert not is_furniture(line)


def test_repeated_short_lines_are_running_heads_but_bylines_are_not():
    lines = ["中国经营报", "正文一。", "中国经营报", "正文二。", "中国经营报", "来源：科技日报"] + ["来源：科技日报"] * 3
    heads = repeated_headers(lines)
    assert "中国经营报" in heads
    assert "来源：科技日报" not in heads
    assert "正文一。" not in heads


WRAPPED = """近日，多项活跃资本市场、提振投资者信心的重磅政策接连推出，为二级市

场长期稳定发展带来助力。当政策影响传导到一级市场，VC/PE 机构正在进行投

资、退出策略调整以适应当前环境。 

长期以来，IPO 退出一直是对 VC/PE 机构来说收益最高的退出方式，也是优

质被投企业的首选退出方式。随着证监会一系列政策的推出，被投企业上市退出

的行为不会发生根本性变化。但在 IPO 节奏把控的情况下，对拟上市企业的质量

将提出更高要求。 

12

图片来源：视觉中国

视觉中国/图

本报资料室/图

“做投资本来就是掐尖的项目才能上市，对 VC/PE 机构来说，投项目时的筛

选标准会更谨慎和严格。”盛景嘉成创始合伙人刘昊飞对 21 世纪经济报道说。 

据媒体报道，黑石已重启 Blackstone Private Equity Strategies Fund （下

称 BXPE）募集工作，这只 PE 基金产品主要面向富人出资人（LP）募资，计划在

明年 1月正式推出。 
"""


def test_clean_text_joins_wraps_and_drops_furniture():
    cleaned = clean_text(WRAPPED)
    paragraphs = cleaned.split("\n")
    assert paragraphs == [
        "近日，多项活跃资本市场、提振投资者信心的重磅政策接连推出，为二级市场长期稳定发展带来助力。"
        "当政策影响传导到一级市场，VC/PE机构正在进行投资、退出策略调整以适应当前环境。",
        "长期以来，IPO退出一直是对VC/PE机构来说收益最高的退出方式，也是优质被投企业的首选退出方式。"
        "随着证监会一系列政策的推出，被投企业上市退出的行为不会发生根本性变化。"
        "但在IPO节奏把控的情况下，对拟上市企业的质量将提出更高要求。",
        "“做投资本来就是掐尖的项目才能上市，对VC/PE机构来说，投项目时的筛选标准会更谨慎和严格。”"
        "盛景嘉成创始合伙人刘昊飞对21世纪经济报道说。",
        "据媒体报道，黑石已重启Blackstone Private Equity Strategies Fund（下称BXPE）募集工作，"
        "这只PE基金产品主要面向富人出资人（LP）募资，计划在明年1月正式推出。",
    ]
    for furniture in ("图片来源", "视觉中国", "资料室", "\n12\n"):
        assert furniture not in cleaned
    assert "21 世纪" not in cleaned


def test_wrapped_latin_phrase_keeps_word_boundary():
    width_filler = "这是一行用来确定折行宽度的正文内容，长度与其他行相近，没有结束"
    raw = "\n".join(
        [
            width_filler,
            width_filler,
            "据媒体报道，黑石已经重启了这只基金的募集工作，基金名为 Blackstone",
            "Private Equity Strategies Fund。",
        ]
    )
    cleaned = clean_text(raw)
    assert "Blackstone Private Equity Strategies Fund。" in cleaned
    assert "BlackstonePrivate" not in cleaned


def test_line_ending_mid_clause_continues():
    raw = "短行，\n接着说完。\n另起一段。"
    # A line ending in a comma continues whatever its width; a short finished sentence ends a paragraph.
    assert clean_text(raw) == "短行，接着说完。\n另起一段。"


def test_crlf_and_bom_are_normalised():
    assert clean_text("\ufeff第一段。\r\n\r\n第二段。\r\n") == "第一段。\n第二段。"


def test_only_furniture_gives_empty_text():
    assert clean_text("12\n\n图片来源：视觉中国\n\n本报资料室/图\n") == ""
