"""Each loader on small files written here, and the pipeline's handling of bad files."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from rag.ingest.loaders import LoaderError, decode_text, load_file

CHINESE = "黑石BXPE将收取1.25%的管理费，并为出资人提供六个月的管理费减免期。"


# ----------------------------------------------------------------- helpers
def minimal_pdf(lines: list[str]) -> bytes:
    """A valid one-page PDF with ASCII text in the standard Helvetica font (xref offsets exact)."""
    ops = ["BT", "/F1 12 Tf", "72 720 Td"]
    for i, line in enumerate(lines):
        escaped = line.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
        if i:
            ops.append("0 -16 Td")
        ops.append(f"({escaped}) Tj")
    ops.append("ET")
    stream = "\n".join(ops).encode("ascii")
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return out


def corrupt_pdf() -> bytes:
    rng = random.Random(1234)
    return b"%PDF-1.7\n" + bytes(rng.randrange(256) for _ in range(4096))


# ----------------------------------------------------------------- text
def test_txt_utf8(tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_text(CHINESE + "\n第二行。", encoding="utf-8")
    docs = load_file(path)
    assert len(docs) == 1
    assert docs[0].text == CHINESE + "\n第二行。"
    assert docs[0].file == "a.txt"
    assert docs[0].single_article is False


def test_txt_display_name_is_used(tmp_path: Path):
    path = tmp_path / "a.txt"
    path.write_text(CHINESE, encoding="utf-8")
    assert load_file(path, "sub/a.txt")[0].file == "sub/a.txt"


def test_txt_utf8_with_bom(tmp_path: Path):
    path = tmp_path / "bom.txt"
    path.write_bytes(b"\xef\xbb\xbf" + CHINESE.encode("utf-8"))
    text = load_file(path)[0].text
    assert text == CHINESE
    assert "\ufeff" not in text


@pytest.mark.parametrize("encoding", ["gbk", "gb18030"])
def test_txt_gbk_family(tmp_path: Path, encoding: str):
    text = "中国人民银行会同中国证监会发布通知，支持科技型企业融资。\n创新生态。"
    data = text.encode(encoding)
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")  # the fixture really is not UTF-8
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(data)
    assert load_file(path)[0].text == text


def test_gb18030_only_characters():
    # The euro sign and this CJK Extension B character exist in GB18030 but not in GBK.
    text = "价格为100€，𠮷野家开业。"
    assert decode_text(text.encode("gb18030")) == text


def test_markdown(tmp_path: Path):
    path = tmp_path / "notes.md"
    path.write_text("# 标题\n\n" + CHINESE + "\n", encoding="utf-8")
    docs = load_file(path)
    assert len(docs) == 1
    assert "# 标题" in docs[0].text and CHINESE in docs[0].text
    assert docs[0].file == "notes.md"


def test_binary_txt_is_rejected(tmp_path: Path):
    path = tmp_path / "bin.txt"
    path.write_bytes(b"abc\x00\x00\x00def")
    with pytest.raises(LoaderError, match="binary"):
        load_file(path)


# ----------------------------------------------------------------- pdf
def test_pdf_text_is_extracted(tmp_path: Path):
    path = tmp_path / "report.pdf"
    path.write_bytes(minimal_pdf(["Blackstone Private Equity Strategies Fund", "Management fee 1.25% (BXPE)"]))
    docs = load_file(path)
    assert len(docs) == 1
    text = docs[0].text
    assert "Blackstone Private Equity Strategies Fund" in text
    assert "Management fee 1.25% (BXPE)" in text
    assert docs[0].file == "report.pdf"


def test_corrupt_pdf_raises_loader_error_with_reason(tmp_path: Path):
    path = tmp_path / "broken.pdf"
    path.write_bytes(corrupt_pdf())
    with pytest.raises(LoaderError) as info:
        load_file(path)
    reason = str(info.value)
    assert reason.strip()
    assert "PDF" in reason


def test_pdf_without_text_layer(tmp_path: Path):
    path = tmp_path / "scan.pdf"
    path.write_bytes(minimal_pdf([]))
    with pytest.raises(LoaderError, match="no extractable text"):
        load_file(path)


# ----------------------------------------------------------------- docx
def test_docx(tmp_path: Path):
    import docx

    document = docx.Document()
    document.core_properties.title = "科技金融体制"
    document.add_paragraph("加快构建同创新相适应的科技金融体制。")
    document.add_paragraph(CHINESE)
    table = document.add_table(rows=1, cols=2)
    table.rows[0].cells[0].text = "管理费"
    table.rows[0].cells[1].text = "1.25%"
    path = tmp_path / "doc.docx"
    document.save(str(path))

    docs = load_file(path)
    assert len(docs) == 1
    assert docs[0].title == "科技金融体制"
    lines = docs[0].text.split("\n")
    assert "加快构建同创新相适应的科技金融体制。" in lines
    assert CHINESE in lines
    assert "管理费 | 1.25%" in lines


def test_corrupt_docx(tmp_path: Path):
    path = tmp_path / "broken.docx"
    path.write_bytes(b"PK\x03\x04 this is not really a zip archive" * 10)
    with pytest.raises(LoaderError) as info:
        load_file(path)
    assert str(info.value).strip()


# ----------------------------------------------------------------- html
HTML = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>美国大型PE调降管理费</title>
<script>var tracking = "SCRIPT_SHOULD_NOT_APPEAR";</script>
<style>body { color: red; } .STYLE_SHOULD_NOT_APPEAR {}</style></head>
<body>
<nav><a href="/">首页</a></nav>
<article>
<h1>美国大型PE调降管理费</h1>
<p>针对募资难困局，美国大型PE基金纷纷祭出调降管理费的“大招”。据媒体报道，黑石已重启BXPE募集工作。</p>
<p>值得关注的是，不同于以往每年1.5%-2%的管理费，黑石BXPE将收取1.25%的管理费，且为LP提供六个月的管理费减免期。</p>
<script>document.write("SCRIPT_SHOULD_NOT_APPEAR");</script>
</article>
</body></html>
"""


def test_html_title_and_article_text(tmp_path: Path):
    path = tmp_path / "page.html"
    path.write_text(HTML, encoding="utf-8")
    docs = load_file(path)
    assert len(docs) == 1
    doc = docs[0]
    assert doc.title == "美国大型PE调降管理费"
    assert "黑石BXPE将收取1.25%的管理费" in doc.text
    assert "针对募资难困局" in doc.text
    assert "SCRIPT_SHOULD_NOT_APPEAR" not in doc.text
    assert "STYLE_SHOULD_NOT_APPEAR" not in doc.text
    assert doc.single_article is True


# ----------------------------------------------------------------- jsonl
def test_jsonl_records_and_bad_line(tmp_path: Path, caplog):
    records = [
        {"text": "第一篇正文。" * 5, "title": "第一篇", "date": "2024-01-02", "source": "科技日报"},
        {"text": "第二篇正文。" * 5, "title": "第二篇"},
    ]
    lines = [json.dumps(records[0], ensure_ascii=False), "{this is not json", "", json.dumps({"title": "无正文"}),
             json.dumps(records[1], ensure_ascii=False)]
    path = tmp_path / "news.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    with caplog.at_level("WARNING"):
        docs = load_file(path)
    assert [d.title for d in docs] == ["第一篇", "第二篇"]
    first, second = docs
    assert first.text == records[0]["text"]
    assert (first.date, first.source, first.file) == ("2024-01-02", "科技日报", "news.jsonl")
    assert (second.date, second.source) == ("", "")
    assert all(d.single_article for d in docs)
    messages = " ".join(r.getMessage() for r in caplog.records)
    assert "line 2" in messages and "invalid JSON" in messages
    assert "line 4" in messages


def test_jsonl_without_valid_records(tmp_path: Path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"title": "x"}\nnot json\n', encoding="utf-8")
    with pytest.raises(LoaderError, match="no valid JSON lines"):
        load_file(path)


# ----------------------------------------------------------------- empty / unsupported
@pytest.mark.parametrize("suffix", [".txt", ".md", ".pdf", ".docx", ".html", ".jsonl"])
def test_empty_file(tmp_path: Path, suffix: str):
    path = tmp_path / f"empty{suffix}"
    path.write_bytes(b"")
    with pytest.raises(LoaderError, match="empty"):
        load_file(path)


def test_whitespace_only_file_is_empty(tmp_path: Path):
    path = tmp_path / "blank.txt"
    path.write_text("  \n\n\t \n", encoding="utf-8")
    with pytest.raises(LoaderError, match="empty"):
        load_file(path)


@pytest.mark.parametrize("name", ["data.xlsx", "image.png", "README"])
def test_unsupported_suffix(tmp_path: Path, name: str):
    path = tmp_path / name
    path.write_bytes(b"whatever")
    with pytest.raises(LoaderError, match="unsupported file type"):
        load_file(path)


def test_suffix_is_case_insensitive(tmp_path: Path):
    path = tmp_path / "UPPER.TXT"
    path.write_text(CHINESE, encoding="utf-8")
    assert load_file(path)[0].text == CHINESE


# ----------------------------------------------------------------- pipeline with bad files
GOOD_TEXT = (
    "美国大型PE调降管理费\n"
    "针对募资难困局，美国大型PE基金纷纷祭出调降管理费的“大招”。据媒体报道，黑石已重启BXPE募集工作，"
    "这只PE基金产品主要面向富人出资人募资，计划在明年1月正式推出。\n"
    "值得关注的是，不同于以往每年1.5%-2%的管理费，黑石BXPE将收取1.25%的管理费，且为LP提供六个月的管理费减免期。\n"
    "在业内人士看来，这无形间反映当前美国大型PE基金普遍面临的募资难窘境。\n"
)


def test_pipeline_skips_bad_files_and_indexes_the_good_one(tmp_path: Path, settings):
    from rag.embed.sentence_transformer import embedder_from_settings
    from rag.index.store import load_index
    from rag.ingest.pipeline import ingest

    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "good.txt").write_text(GOOD_TEXT, encoding="utf-8")
    (corpus / "broken.pdf").write_bytes(corrupt_pdf())
    (corpus / "empty.txt").write_bytes(b"")
    (corpus / "table.xlsx").write_bytes(b"PK\x03\x04 not a supported format")
    index_dir = tmp_path / "index"

    report = ingest([corpus], index_dir, embedder=embedder_from_settings(settings), settings=settings, progress=False)

    assert set(report.errors) == {"broken.pdf", "empty.txt", "table.xlsx"}
    assert "PDF" in report.errors["broken.pdf"]
    assert "empty" in report.errors["empty.txt"]
    assert "unsupported" in report.errors["table.xlsx"]
    assert report.files == 1
    assert report.files_changed == ["good.txt"]
    assert report.chunks >= 1 and report.chunks_embedded == report.chunks

    index = load_index(index_dir)
    assert set(index.manifest.files) == {"good.txt"}
    assert {c.file for c in index.chunks} == {"good.txt"}
    assert any("1.25%" in c.text for c in index.chunks)
    assert index.faiss_index.ntotal == len(index.chunks)
