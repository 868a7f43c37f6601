"""Tables at ingest: the real tables of the bundled corpus, a synthetic table flattened by the
real cleaner, numeric prose left alone, table chunks beside byte-identical prose chunks, and
the display text stored in (and absent from older) index versions."""

from __future__ import annotations

import json
import sqlite3
from functools import cache
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT, Settings
from rag.index.store import load_index, write_index
from rag.ingest.chunk import chunk_article
from rag.ingest.loaders import load_file
from rag.ingest.pipeline import chunks_from_file, pipeline_fingerprint
from rag.ingest.segment import segment_document
from rag.ingest.tables import Table, find_tables, source_cells, split_header
from rag.text.sentences import split_sentences
from rag.types import Article, Chunk, RawDocument
from tests.index import synthetic

CORPUS = PROJECT_ROOT / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.txt"))
NEWSPAPER = next(name for name in FILES if name.startswith("004"))
SETTINGS = Settings(_env_file=None)
INDICES = ("上证综指", "深证综指", "沪深300", "深证成指", "创业板指", "上证50", "科创50", "北证50")
YEARS = tuple(f"{year}年" for year in range(2023, 2013, -1))


@cache
def corpus_tables(name: str) -> tuple[tuple[Article, tuple[Table, ...]], ...]:
    found = []
    for doc in load_file(CORPUS / name, name):
        source = source_cells(doc.text)
        for article in segment_document(doc):
            found.append((article, tuple(find_tables(article.text, source))))
    return tuple(found)


def _all_tables() -> list[tuple[Article, Table]]:
    return [(article, table) for name in FILES for article, tables in corpus_tables(name) for table in tables]


def _table(caption_or_column: str) -> tuple[Article, Table]:
    return next((a, t) for a, t in _all_tables() if caption_or_column in (t.caption, *t.columns))


def _cell(table: Table, row: str, column: str):
    found = [c for r in table.rows if r.label == row for c in r.cells if c.column == column]
    assert len(found) <= 1
    return found[0] if found else None


# ------------------------------------------------------------------ the bundled corpus
def test_bundled_corpus_has_exactly_its_two_tables():
    tables = _all_tables()
    assert len(tables) == 2, [t.columns for _, t in tables]
    assert {a.file for a, _ in tables} == {NEWSPAPER}
    assert sorted(len(t.rows) for _, t in tables) == [5, 10]
    assert sorted(sum(len(r.cells) for r in t.rows) for _, t in tables) == [10, 66]


def test_index_table_rows_are_self_describing():
    article, table = _table("A股十年主要股指涨跌幅")
    assert (table.caption, table.unit, table.label_header) == ("A股十年主要股指涨跌幅", "%", "年份")
    assert table.columns == INDICES  # from the source line's tabs: cleaning glued them together
    assert "年份上证综指深证综指沪深300深证成指创业板指上证50科创50北证50" in article.text
    assert tuple(r.label for r in table.rows) == YEARS
    assert table.notes == ("截止日期:2023年12月", "数据来源:证监会官网")
    for row, column, value in [("2023年", "上证综指", "-3.7"), ("2023年", "北证50", "14.92"),
                               ("2023年", "上证50", "-11.73"), ("2022年", "深证成指", "-25.86"),
                               ("2020年", "创业板指", "64.96"), ("2014年", "上证50", "63.93")]:
        cell = _cell(table, row, column)
        assert cell is not None and cell.value == value
        assert article.text[cell.start : cell.end] == value  # offsets point at the figure
    # the rows glued after a trailing "--" ("…0.37\t--2020年13.87…") are read apart
    assert "--2020年13.87" in article.text
    assert [c.value for c in table.rows[3].cells] == ["13.87", "35.2", "27.21", "38.73", "64.96", "18.85", "39.3"]
    # empty cells ("--") are no sentence: 科创50 has no 2019 figure
    assert _cell(table, "2019年", "科创50") is None and _cell(table, "2021年", "北证50") is None
    sentences = table.sentences()
    assert "A股十年主要股指涨跌幅：2023年 上证综指 -3.7%。" in sentences
    assert "A股十年主要股指涨跌幅：2023年 北证50 14.92%。" in sentences
    assert "A股十年主要股指涨跌幅：2020年 创业板指 64.96%。" in sentences
    assert sentences[-2:] == ["截止日期:2023年12月。", "数据来源:证监会官网。"]
    assert article.text[table.start :].startswith("A股十年主要股指涨跌幅\n单位:%\n年份")
    assert article.text[: table.end].endswith("数据来源:证监会官网")


def test_wealth_table_rows_are_self_describing():
    article, table = _table("存续规模占比")
    assert table.label_header == "机构类型"
    assert table.columns == ("存续规模", "存续规模占比")  # "(亿元)" moved to the cells
    assert tuple(r.label for r in table.rows) == ("国有理财公司", "股份理财公司", "城商理财公司", "合资理财公司", "合计")
    assert table.notes == ("数据来源：普益标准金融数据平台",)
    cell = _cell(table, "国有理财公司", "存续规模")
    assert (cell.value, cell.unit, cell.shown_value) == ("117.7833", "亿元", "117.7833亿元")
    assert _cell(table, "合资理财公司", "存续规模占比").shown_value == "5.49%"
    sentences = table.sentences()
    for sentence in ("国有理财公司 存续规模 117.7833亿元。", "国有理财公司 存续规模占比 31.70%。",
                     "城商理财公司 存续规模 33.0044亿元。", "合资理财公司 存续规模占比 5.49%。",
                     "合计 存续规模 371.5226亿元。"):
        assert sentence in sentences


def test_every_cell_sentence_is_one_sentence_of_the_splitter():
    for _, table in _all_tables():
        for sentence in table.sentences():
            assert sentence.endswith("。") and "\n" not in sentence
            assert split_sentences(sentence) == [sentence]


# ------------------------------------------------------------------ chunks of the corpus
@cache
def corpus_chunks(name: str) -> tuple[list[Article], list[Chunk]]:
    return chunks_from_file(CORPUS / name, name, SETTINGS)


@pytest.mark.parametrize("name", FILES)
def test_prose_chunks_are_byte_identical_to_chunking_without_tables(name):
    articles, chunks = corpus_chunks(name)
    regions = {a.index: [(t.start, t.end) for t in tables] for a, tables in corpus_tables(name)}
    size, overlap, max_size = SETTINGS.chunk_size, SETTINGS.chunk_overlap, SETTINGS.chunk_max_size
    for article in articles:
        mine = [c for c in chunks if c.article_index == article.index]
        plain = chunk_article(article, size, overlap, max_size)
        touches = lambda c: any(c.start < e and s < c.end for s, e in regions[article.index])  # noqa: E731
        prose = [c for c in mine if not c.display_text]
        # every chunk that touches no table is exactly as before (text, offsets, id)
        assert [c for c in plain if not touches(c)] == [c for c in prose if c in plain]
        for chunk in prose:
            assert article.text[chunk.start : chunk.end] == chunk.text and not touches(chunk)
        if not regions[article.index]:
            assert mine == plain


def test_table_chunks_carry_cell_sentences_and_the_original_rows():
    articles, chunks = corpus_chunks(NEWSPAPER)
    table_chunks = [c for c in chunks if c.display_text]
    assert len(table_chunks) == 8
    texts = {a.index: a.text for a in articles}
    for chunk in table_chunks:
        lines = chunk.text.split("\n")
        assert split_sentences(chunk.text) == lines  # one cell (or note) per sentence
        assert 0 < len(chunk.text) <= SETTINGS.chunk_max_size
        original = texts[chunk.article_index][chunk.start : chunk.end]
        assert chunk.display_text.endswith(original.strip()) and chunk.shown_text == chunk.display_text
        assert chunk.indexed_text == f"{chunk.title}\n{chunk.text}"
    by_line = {line: c for c in table_chunks for line in c.text.split("\n")}
    first = by_line["A股十年主要股指涨跌幅：2023年 北证50 14.92%。"]
    assert first.display_text.startswith("A股十年主要股指涨跌幅\n单位:%\n年份上证综指")
    assert "2023年-3.7\t-6.97" in first.display_text
    later = by_line["A股十年主要股指涨跌幅：2020年 创业板指 64.96%。"]
    assert later.display_text.startswith("A股十年主要股指涨跌幅\n单位:%\n年份")  # header repeated for display
    assert "2020年13.87\t35.2" in later.display_text
    # the chunks of one table never overlap, so passage merging never splices them by offsets
    for a in table_chunks:
        for b in table_chunks:
            if a is not b and a.article_index == b.article_index:
                assert a.end <= b.start or b.end <= a.start


def test_eval_table_answers_are_self_describing_lines():
    """The rows of eval/datasets whose answer is a table cell: the cell is one line of a chunk."""
    rows = [json.loads(line) for line in (PROJECT_ROOT / "eval" / "datasets" / "fresh.jsonl").open(encoding="utf-8")]
    table_rows = {r["id"]: r for r in rows if r.get("table")}
    _, chunks = corpus_chunks(NEWSPAPER)
    lines = [line for c in chunks if c.display_text for line in c.text.split("\n")]
    expected = {
        "fr-2035": ["国有理财公司 存续规模 117.7833亿元。", "国有理财公司 存续规模占比 31.70%。"],
        "fr-2036": ["城商理财公司 存续规模 33.0044亿元。"],
        "fr-2037": ["合资理财公司 存续规模 20.3893亿元。", "合资理财公司 存续规模占比 5.49%。"],
        "fr-2038": ["合资理财公司 存续规模占比 5.49%。"],
        "fr-3057": ["A股十年主要股指涨跌幅：2023年 北证50 14.92%。"],
        "fr-3058": ["A股十年主要股指涨跌幅：2020年 创业板指 64.96%。"],
        "fr-3059": ["A股十年主要股指涨跌幅：2023年 上证50 -11.73%。"],
        "fr-3062": ["A股十年主要股指涨跌幅：2023年 上证综指 -3.7%。"],
    }
    for item, wanted in expected.items():
        assert item in table_rows
        for line in wanted:
            assert line in lines, (item, line)
        # the key facts that sit in the table are in those lines
        facts = [f for f in table_rows[item]["must_include"] if any(f in line for line in lines)]
        assert facts, item
    # the unanswerable near miss (科创50 has no 2019 figure) finds no such line
    assert not [line for line in lines if "2019年 科创50" in line]


def test_fingerprint_covers_the_table_module():
    import rag.ingest.pipeline as pipeline

    source = Path(pipeline.__file__).read_text(encoding="utf-8")
    assert "tables" in source.split("def pipeline_fingerprint", 1)[1].split("def ", 1)[0]
    assert len(pipeline_fingerprint()) == 16


# ------------------------------------------------------------------ synthetic flattened table
PROSE = ("该行2023年实现营业收入356.2亿元，同比增长8.1%；资产质量保持稳定，拨备覆盖率为245.6%。"
         "管理层表示，2024年将继续加大对科技企业和绿色产业的信贷投放，全年新增贷款计划不低于800亿元，"
         "同时控制负债成本，力争净息差保持在1.8%以上。")
RAW_REPORT = f"""示范银行年报：规模稳步增长
本报记者 王明 上海报道
{PROSE}
具体数据见下表。
主要财务指标
单位：亿元
项目\t2023年末\t2022年末\t同比增长(%)
总资产\t12,345.6\t11,020.3\t12.0
贷款总额\t7,890.1\t7,012.4\t12.5
净利润\t98.7\t90.1\t--
不良贷款率\t1.25%\t1.31%\t--
资料来源：示范银行2023年年报
{PROSE}
"""


def _synthetic_article() -> tuple[Article, dict[str, str]]:
    doc = RawDocument(text=RAW_REPORT, file="report.txt")
    (article,) = segment_document(doc)
    return article, source_cells(doc.text)


def test_synthetic_table_flattened_by_the_cleaner_is_read_back():
    article, source = _synthetic_article()
    # the real cleaner flattens it the way it flattens the newspaper's tables
    assert "项目2023年末2022年末同比增长(%)" in article.text
    assert "总资产12,345.6\t11,020.3\t12.0" in article.text
    assert "净利润98.7\t90.1\t--不良贷款率1.25%" in article.text  # a row ending in "--" runs on
    (table,) = find_tables(article.text, source)
    assert (table.caption, table.unit, table.label_header) == ("主要财务指标", "亿元", "项目")
    assert table.columns == ("2023年末", "2022年末", "同比增长")
    assert [r.label for r in table.rows] == ["总资产", "贷款总额", "净利润", "不良贷款率"]
    assert table.notes == ("资料来源：示范银行2023年年报",)
    sentences = table.sentences()
    assert sentences[:3] == ["主要财务指标：总资产 2023年末 12,345.6亿元。", "主要财务指标：总资产 2022年末 11,020.3亿元。",
                             "主要财务指标：总资产 同比增长 12.0%。"]
    assert "主要财务指标：不良贷款率 2023年末 1.25%。" in sentences  # a figure with its own unit keeps it
    assert not [s for s in sentences if "净利润 同比增长" in s]  # "--" is an empty cell
    # without the source tabs the header is still cut right: years and a bracketed unit mark the cells
    assert find_tables(article.text) == [table]


def test_synthetic_table_chunks_leave_the_prose_alone():
    article, source = _synthetic_article()
    tables = find_tables(article.text, source)
    chunks = chunk_article(article, 200, 40, 300, tables=tables)
    table_chunks = [c for c in chunks if c.display_text]
    prose = [c for c in chunks if not c.display_text]
    assert table_chunks and prose
    assert "\n".join(c.text for c in table_chunks).split("\n") == tables[0].sentences()
    assert table_chunks[0].start == tables[0].start and table_chunks[-1].end == tables[0].end
    for chunk in prose:
        assert article.text[chunk.start : chunk.end] == chunk.text
        assert chunk.end <= tables[0].start or chunk.start >= tables[0].end
    covered = "".join(c.text for c in prose)
    assert PROSE[:30] in covered and article.text.rstrip().endswith(prose[-1].text)


# ------------------------------------------------------------------ what is not a table
NOT_TABLES = {
    "enumeration in prose": (
        "交通部公布的数据显示\n"
        "2018—2022年全国完成交通固定资产投资分别为3.22亿元、3.25亿元、3.48亿元、3.62亿元、3.85亿元,"
        "同比分别增长0.7%、3.1%、7.1%、4.1%、6.4%。\n2023年全年完成营业性货运量547.5亿吨,同比增长8.1%。"
    ),
    "figures in running text": (
        "财务数据\n2023年实现营业收入38.88亿元，同比增长35.34%；净利润8.68亿元，同比增长25.77%。\n"
        "2022年实现营业收入28.73亿元，同比增长77.25%；净利润6.68亿元。"
    ),
    "phone numbers": "联系方式\n热线电话 400 600 9958\n服务电话 133 0368 8680\n传真电话 010 8889 0120",
    "short headings ending in figures": "经济增速\n第一季度增长4.5%\n第二季度增长6.3%\n第三季度增长4.9%",
    "rows without a header": (
        "下表为各地数据。\n北京1,234.5\t12.1\n上海2,345.6\t10.3\n广州987.6\t9.8\n以上数据来自统计局。"
    ),
    "one row only": "主要指标\n项目\t2023年\t2022年\n营业收入\t12.3\t11.0\n随后是正文。",
    "rows of different widths": "主要指标\n指标2023年2022年\n营业收入12.3\t11.0\n净利润1.2\t1.1\t0.9",
    "contact block": "总机电话:(010)88890000发行征订电话:(010)88890120广告热线:(010)88890020",
}


@pytest.mark.parametrize("case", sorted(NOT_TABLES))
def test_numeric_prose_is_not_a_table(case):
    text = NOT_TABLES[case]
    assert find_tables(text) == []
    assert find_tables(text, source_cells(text)) == []


def test_an_unsure_header_means_no_table():
    rows = "\n".join(f"{name}{a}\t{b}" for name, a, b in [("甲公司", "1.5", "2.5"), ("乙公司", "3.5", "4.5")])
    # "指标数值同比增长" cuts as 指标|数值|同比增长 or 指标|数值同比|增长 equally well: no guess
    assert split_header("指标数值同比增长", 3) is None
    assert find_tables(f"引言。\n指标数值同比增长\n{rows}") == []
    # the same header from a source line with its tabs is read
    source = source_cells("指标\t数值\t同比增长")
    (table,) = find_tables(f"引言。\n指标数值同比增长\n{rows}", source)
    assert table.columns == ("数值", "同比增长")
    assert table.sentences()[0] == "甲公司 数值 1.5。"


def test_a_label_ending_in_digits_keeps_them_when_the_header_says_so():
    text = "说明文字。\n指数2023年2022年\n沪深300\t-11.38\t-21.63\n上证50\t-11.73\t-19.52"
    source = source_cells("指数\t2023年\t2022年")
    (table,) = find_tables(text, source)
    assert [r.label for r in table.rows] == ["沪深300", "上证50"]
    assert table.sentences()[0] == "沪深300 2023年 -11.38。"
    # without the source line the header decides too: it cuts into 3 names, not 4
    assert find_tables(text) == [table]


# ------------------------------------------------------------------ the index store
def _table_chunk() -> Chunk:
    return Chunk(chunk_id="t-1", file="a.txt", article_index=0, title="标题", section="", byline="", source="",
                 text="主要财务指标：总资产 2023年末 12,345.6亿元。", start=10, end=40,
                 display_text="主要财务指标\n项目2023年末\n总资产12,345.6")


def test_display_text_is_stored_and_read_back(tmp_path):
    rows = synthetic.chunks(2) + [_table_chunk()]
    write_index(tmp_path, synthetic.manifest(rows), rows, [["x"]] * 3, synthetic.vectors(3))
    loaded = load_index(tmp_path).chunks
    assert loaded == rows
    assert loaded[-1].display_text.startswith("主要财务指标\n") and loaded[0].display_text == ""


def test_an_index_written_before_display_text_still_loads(tmp_path):
    path, rows, _, _ = synthetic.write(tmp_path, n=3)
    db = path / "chunks.sqlite"
    with sqlite3.connect(db) as connection:  # the chunks table as it was before the column existed
        connection.execute("ALTER TABLE chunks DROP COLUMN display_text")
    connection.close()
    manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
    from rag.fileutil import sha256_file

    manifest["checksums"]["chunks.sqlite"] = sha256_file(db)
    (path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with sqlite3.connect(db) as connection:
        columns = {info[1] for info in connection.execute("PRAGMA table_info(chunks)")}
    connection.close()
    assert "display_text" not in columns
    loaded = load_index(tmp_path).chunks
    assert loaded == rows and all(c.display_text == "" and c.shown_text == c.text for c in loaded)
