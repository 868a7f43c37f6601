"""Sentence-aware chunking: sizes, overlap, boundaries, offsets, stable ids."""

from __future__ import annotations

from functools import cache

import pytest

from rag.config import PROJECT_ROOT
from rag.ingest.chunk import chunk_article, chunk_id
from rag.ingest.pipeline import articles_from_file
from rag.text.sentences import CLOSERS, TERMINATORS, sentence_spans
from rag.types import Article

CORPUS = PROJECT_ROOT / "data" / "corpus"
FILES = sorted(p.name for p in CORPUS.glob("*.txt"))
SIZE, OVERLAP, MAX = 400, 80, 600
BXPE_SENTENCE = "值得关注的是，不同于以往每年1.5%-2%的管理费，黑石BXPE将收取1.25%的管理费，且为LP提供六个月的管理费减免期。"


@cache
def corpus_articles(name: str) -> tuple[Article, ...]:
    return tuple(articles_from_file(CORPUS / name, name))


def _ends_sentence(text: str, end: int) -> bool:
    return end == len(text) or text[end] == "\n" or text[end - 1] in TERMINATORS | CLOSERS


def _starts_sentence(text: str, start: int) -> bool:
    return start == 0 or text[start - 1] == "\n" or text[start - 1] in TERMINATORS | CLOSERS


def _sentence_around(text: str, pos: int) -> tuple[int, int]:
    for start, end in sentence_spans(text):
        if start <= pos < end:
            return start, end
    raise AssertionError(f"position {pos} is in no sentence")


# ------------------------------------------------------------------ real corpus
@pytest.mark.parametrize("name", FILES)
def test_real_corpus_chunks(name: str):
    articles = corpus_articles(name)
    pairs = overlapping = 0
    for article in articles:
        chunks = chunk_article(article, SIZE, OVERLAP, MAX)
        assert chunks, article.title
        text = article.text
        for chunk in chunks:
            # offsets point into the article text
            assert text[chunk.start : chunk.end] == chunk.text
            assert 0 < len(chunk.text) <= MAX
            assert chunk.text == chunk.text.strip()
            assert (chunk.file, chunk.article_index, chunk.title, chunk.section, chunk.source) == (
                article.file, article.index, article.title, article.section, article.source)
            # whole sentences, unless one sentence alone is over the maximum
            if not _ends_sentence(text, chunk.end):
                start, end = _sentence_around(text, chunk.end - 1)
                assert end - start > MAX, chunk.text[-40:]
            if not _starts_sentence(text, chunk.start):
                start, end = _sentence_around(text, chunk.start)
                assert end - start > MAX, chunk.text[:40]
        # the chunks cover the article from start to end, in order
        assert chunks[0].start == 0 and chunks[-1].end == len(text)
        for previous, current in zip(chunks, chunks[1:]):
            assert previous.start < current.start and previous.end < current.end
            assert current.start <= previous.end + 1  # no text is skipped between chunks (only a newline)
            pairs += 1
            if current.start < previous.end:
                overlapping += 1
                shared = text[current.start : previous.end]
                assert previous.text.endswith(shared) and current.text.startswith(shared)
                # the overlap budget counts sentence characters, not the newlines between them
                assert len(shared) - shared.count("\n") <= OVERLAP
    if pairs:
        assert overlapping / pairs >= 0.6, (overlapping, pairs)


def test_chunk_ids_are_stable_and_unique():
    ids_first, ids_second = [], []
    for name in FILES:
        for article in corpus_articles(name):
            ids_first += [c.chunk_id for c in chunk_article(article, SIZE, OVERLAP, MAX)]
        # A fresh read of the file gives the same chunks and the same ids.
        for article in articles_from_file(CORPUS / name, name):
            ids_second += [c.chunk_id for c in chunk_article(article, SIZE, OVERLAP, MAX)]
    assert ids_first == ids_second
    assert len(set(ids_first)) == len(ids_first)
    assert all(len(i) == 16 and int(i, 16) >= 0 for i in ids_first)


def test_chunk_id_depends_on_file_title_and_text():
    base = chunk_id("a.txt", "标题", "0:0:正文")
    assert base == chunk_id("a.txt", "标题", "0:0:正文")
    assert len({base, chunk_id("b.txt", "标题", "0:0:正文"), chunk_id("a.txt", "别的", "0:0:正文"),
                chunk_id("a.txt", "标题", "0:0:正文。")}) == 4


def test_hard_wrapped_bxpe_sentence_is_whole_in_one_chunk():
    name = next(n for n in FILES if n.startswith("000"))
    raw_lines = [line for line in (CORPUS / name).read_text(encoding="utf-8").splitlines() if line.strip()]
    # In the source file the sentence is wrapped over two lines, with PDF spaces inside.
    first = next(i for i, line in enumerate(raw_lines) if line.startswith("值得关注的是，不同于以往每年 1.5%-2%的管理费"))
    assert raw_lines[first].rstrip().endswith("黑石 BXPE 将收取 1.25%")
    assert raw_lines[first + 1].startswith("的管理费，且为 LP 提供六个月的管理费减免期。")

    chunks = [c for a in corpus_articles(name) for c in chunk_article(a, SIZE, OVERLAP, MAX)]
    holding = [c for c in chunks if BXPE_SENTENCE in c.text]
    assert holding, "the wrapped sentence was cut"
    assert all(c.title == "美国大型PE调降管理费破解募资难困局任重道远" for c in holding)
    # no chunk holds only a fragment of it
    for chunk in chunks:
        if "黑石BXPE将收取1.25%" in chunk.text or "且为LP提供六个月的管理费减免期" in chunk.text:
            assert BXPE_SENTENCE in chunk.text


# ------------------------------------------------------------------ synthetic articles
def _article(text: str, title: str = "标题") -> Article:
    return Article(file="t.txt", index=0, title=title, text=text, section="节", byline="作者", source="报")


def test_short_sentences_overlap_by_whole_sentences():
    sentences = [f"第{i:02d}句话讲的是一件和别的句子都不一样的事情。" for i in range(60)]
    article = _article("".join(sentences))
    chunks = chunk_article(article, size=200, overlap=60, max_size=300)
    assert len(chunks) > 3
    for previous, current in zip(chunks, chunks[1:]):
        shared = article.text[current.start : previous.end]
        assert shared, "consecutive chunks should share sentences"
        assert 0 < len(shared) <= 60
        assert shared.endswith("。") and previous.text.endswith(shared)
    for chunk in chunks:
        assert len(chunk.text) <= 300
        assert chunk.text.endswith("。")
        assert chunk.text.startswith("第")


def test_overlong_sentence_is_cut_at_commas_within_max():
    clause = "这是一个很长的分句用来制造超长句子"  # 17 chars
    sentence = "，".join([clause] * 60) + "。"  # about 1080 characters, one sentence
    article = _article(sentence + "短句收尾。")
    chunks = chunk_article(article, size=200, overlap=50, max_size=300)
    assert len(chunks) >= 4
    for chunk in chunks:
        assert len(chunk.text) <= 300
        assert article.text[chunk.start : chunk.end] == chunk.text
    # every cut inside the long sentence falls right after a comma
    for chunk in chunks[:-1]:
        assert chunk.text.endswith(("，", "。"))
    covered = "".join(article.text[c.start : c.end] for c in chunks if c.start >= 0)
    assert "短句收尾。" in covered


def test_max_size_below_size_is_raised_to_size():
    article = _article("一句话。" * 200)
    chunks = chunk_article(article, size=100, overlap=0, max_size=50)
    assert all(len(c.text) <= 100 for c in chunks)
    assert max(len(c.text) for c in chunks) > 50


def test_newlines_end_sentences_and_are_not_in_chunk_edges():
    article = _article("小标题\n正文第一句。正文第二句！\n另一段？")
    assert [article.text[s:e] for s, e in sentence_spans(article.text)] == [
        "小标题", "正文第一句。", "正文第二句！", "另一段？"]
    chunks = chunk_article(article)
    assert len(chunks) == 1
    assert chunks[0].text == article.text
    assert chunks[0].indexed_text == "标题\n" + article.text


def test_closing_quote_stays_with_its_sentence():
    quote = "他说：“" + "市场会好起来" * 10 + "。”"
    article = _article(quote + "随后离开。" * 12)
    chunks = chunk_article(article, size=70, overlap=0, max_size=80)
    assert chunks[0].text == quote  # the chunk ends after the closing quote, not before it
    assert chunks[1].text.startswith("随后离开。")


def test_empty_article_has_no_chunks():
    assert chunk_article(_article("")) == []
