"""Article segmentation on the real corpus files (counts verified by reading the files)."""

from __future__ import annotations

import re
from functools import cache

import pytest

from rag.config import PROJECT_ROOT
from rag.ingest.loaders import load_file
from rag.ingest.segment import MIN_ARTICLE_CHARS, segment_document
from rag.types import Article, RawDocument

CORPUS = PROJECT_ROOT / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.txt"))
LONE_PAGE_NUMBER = re.compile(r"^\s*(第\s*)?[-—]?\s*\d{1,3}\s*[-—]?(\s*页)?\s*$")


@cache
def articles_of(name: str) -> tuple[Article, ...]:
    path = CORPUS / name
    return tuple(a for doc in load_file(path) for a in segment_document(doc))


def _file(prefix: str) -> str:
    return next(name for name in FILES if name.startswith(prefix))


def test_corpus_is_present():
    assert len(FILES) == 5
    assert [f[:3] for f in FILES] == ["000", "001", "002", "003", "004"]


# ------------------------------------------------------------------ 000, counted by hand
def test_000_has_exactly_ten_articles_one_per_source_line():
    raw = (CORPUS / _file("000")).read_text(encoding="utf-8")
    source_lines = [line for line in raw.splitlines() if line.startswith("来源：")]
    assert len(source_lines) == 10  # the file's own article count
    articles = articles_of(_file("000"))
    assert len(articles) == 10
    assert [a.index for a in articles] == list(range(10))


def test_000_titles_sections_sources():
    articles = articles_of(_file("000"))
    expected = [
        ("优化IPO等政策牵动一级市场：VC/PE投资出手愈加谨慎退出寻求多元化方式", "创业投资", "21世纪经济报道"),
        ("美国大型PE调降管理费破解募资难困局任重道远", "创业投资", "21世纪经济报道"),
        ("金融支持民营经济发展文件即将出台：多家头部银行已发布行动方案", "金融", "21世纪经济报道"),
        ("集聚1900多家金融机构北京金融街有何魅力？", "金融", "21世纪经济报道"),
        ("专家：促进新经济新业态新就业联动发展", "理论", "经济参考报"),
        ("整合国家战略科技力量提升创新体系效能", "理论", "经济参考报"),
    ]
    for article, (title, section, source) in zip(articles, expected):
        assert (article.title, article.section, article.source) == (title, section, source)
    assert [a.source for a in articles[6:8]] == ["科技日报", "科技日报"]
    assert [a.source for a in articles[8:]] == ["中国高新技术产业导报"] * 2
    assert articles[7].title == "当“望闻问切”遇上人工智能"
    assert articles[9].title == "南京“硅巷”为城市发展注入新动能"
    assert all(a.file == _file("000") for a in articles)


def test_000_body_is_clean_and_joined():
    bxpe = articles_of(_file("000"))[1]
    assert bxpe.text.startswith("针对募资难困局，美国大型PE基金纷纷祭出调降管理费的“大招”。")
    assert "不同于以往每年1.5%-2%的管理费，黑石BXPE将收取1.25%的管理费，且为LP提供六个月的管理费减免期。" in bxpe.text
    assert "Blackstone Private Equity Strategies Fund" in bxpe.text
    first = articles_of(_file("000"))[0]
    assert "刘昊飞对21世纪经济报道说。" in first.text
    for article in articles_of(_file("000")):
        # Source lines and the section label are metadata, not body text.
        assert not any(line.startswith("来源：") for line in article.text.split("\n"))
        assert not article.text.startswith(article.section + "\n")


# ------------------------------------------------------------------ the others
@pytest.mark.parametrize("prefix", ["001", "002"])
def test_magazine_digests_have_ten_articles(prefix: str):
    articles = articles_of(_file(prefix))
    assert len(articles) == 10
    assert all(a.title for a in articles)
    assert all(a.section for a in articles)
    assert articles[0].source == "21世纪经济报道"


def test_001_sections_and_sources():
    articles = articles_of(_file("001"))
    assert [a.section for a in articles[:2]] == ["聚焦", "聚焦"]
    assert articles[0].title == "中央经济工作会议：形成消费和投资相互促进的良性循环"
    assert articles[2].section == "创业投资"
    assert {a.source for a in articles[6:8]} == {"科技日报"}


def test_003_commentaries_with_bylines():
    raw = (CORPUS / _file("003")).read_text(encoding="utf-8")
    assert raw.count("◎") == 2
    articles = articles_of(_file("003"))
    assert len(articles) == 3
    assert [a.title for a in articles] == [
        "加快构建同创新相适应的科技金融体制",
        "营造良好的创新生态",
        "青岛崂山区：在“更新”中让城市更聪明更智慧",
    ]
    # The ◎ bylines (spaces between CJK names are removed by cleaning), the last from its (author) note.
    assert articles[0].byline == "张俊芳张明喜"
    assert articles[1].byline == "林坚"
    assert "梁太宏" in articles[2].byline
    assert not any("◎" in a.byline or "◎" in a.text for a in articles)


def test_004_newspaper_with_reporter_bylines():
    articles = articles_of(_file("004"))
    assert 40 <= len(articles) <= 70
    with_reporter = [a for a in articles if a.byline.startswith("本报记者")]
    assert len(with_reporter) >= 0.8 * len(articles)
    reporter = next(a for a in articles if a.title.startswith("2024年GDP增速目标"))
    assert reporter.byline.startswith("本报记者谭志娟")
    assert reporter.byline.endswith("北京报道")
    # The byline is metadata, not the first line of the body.
    assert not reporter.text.startswith("本报记者")
    assert all(len(a.text) >= MIN_ARTICLE_CHARS for a in articles)


@pytest.mark.parametrize("name", FILES)
def test_no_page_furniture_in_any_article(name: str):
    for article in articles_of(name):
        for line in article.text.split("\n"):
            assert not LONE_PAGE_NUMBER.match(line), (article.title, line)
            assert line.strip() not in ("视觉中国/图", "本报资料室/图", "视觉中国供图")
        assert "图片来源" not in article.text, article.title
        assert "21 世纪" not in article.text


@pytest.mark.parametrize("name", FILES)
def test_articles_are_well_formed(name: str):
    articles = articles_of(name)
    assert articles
    for i, article in enumerate(articles):
        assert article.index == i
        assert article.title and "\n" not in article.title
        assert article.text == article.text.strip()
        assert "\n\n" not in article.text


# ------------------------------------------------------------------ synthetic documents
BODY = "这是正文的一句话，用来凑够文章的最小长度。" * 8


def test_single_article_document_stays_whole():
    doc = RawDocument(text=f"来源：某报\n{BODY}\n本报记者 张三\n{BODY}", file="x.jsonl", title="给定标题",
                      source="某报", date="2024-01-01", single_article=True)
    articles = segment_document(doc)
    assert len(articles) == 1
    article = articles[0]
    assert (article.title, article.source, article.date, article.file) == ("给定标题", "某报", "2024-01-01", "x.jsonl")
    assert article.text.count(BODY) == 2


def test_document_without_markers_is_one_article():
    doc = RawDocument(text=f"一个普通标题\n{BODY}\n{BODY}", file="plain.txt")
    articles = segment_document(doc)
    assert len(articles) == 1
    assert articles[0].title == "一个普通标题"


def test_source_lines_split_articles_and_short_ones_are_dropped():
    text = (
        f" 金融\n第一篇标题\n{BODY}\n来源：经济参考报\n"
        f"第二篇标题\n{BODY}\n来源：科技日报\n"
        "太短的编者按。\n来源：某报\n"
    )
    articles = segment_document(RawDocument(text=text, file="digest.txt"))
    assert [(a.title, a.section, a.source) for a in articles] == [
        ("第一篇标题", "金融", "经济参考报"),
        ("第二篇标题", "金融", "科技日报"),
    ]


def test_empty_document_has_no_articles():
    assert segment_document(RawDocument(text="\n12\n图片来源：视觉中国\n", file="e.txt")) == []


def test_a_short_file_is_one_article_not_nothing():
    """A two-sentence note is below MIN_ARTICLE_CHARS yet is a document of its own (issue 13, defect 9)."""
    text = "# 青川县茶叶\n\n青川县今年春茶产量达到1200吨。当地计划建设茶叶加工园区。\n"
    assert len(text) < MIN_ARTICLE_CHARS
    [article] = segment_document(RawDocument(text=text, file="note.md"))
    assert article.title == "青川县茶叶"
    assert "春茶产量达到1200吨。" in article.text and "加工园区。" in article.text
