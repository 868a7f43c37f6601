"""Cutting BM25 tokens in worker processes (rag.ingest.token_cut)."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest

from rag.config import Settings
from rag.index.tokenize import tokenizer_for
from rag.ingest.names import NameFinding, build_lexicon, find_names
from rag.ingest.pipeline import chunks_from_file
from rag.ingest import token_cut
from rag.ingest.token_cut import block_cutter

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"


def _bundled_texts_and_lexicon():
    texts: list[str] = []
    found: Counter[NameFinding] = Counter()
    for path in sorted(CORPUS.glob("*.txt")):
        articles, chunks = chunks_from_file(path, path.name, Settings(_env_file=None))
        texts.extend(c.indexed_text for c in chunks)
        for article in articles:
            found.update(find_names(f"{article.title}\n{article.text}"))
    return texts, build_lexicon(found.items())


def test_worker_processes_cut_exactly_as_one_process_does():
    texts, lexicon = _bundled_texts_and_lexicon()
    assert len(texts) > 500 and lexicon.words
    blocks = [texts[start : start + 97] for start in range(0, len(texts), 97)]
    in_processes = list(block_cutter(lexicon, len(texts), workers=2, parallel_from=1)(iter(blocks)))
    cut = tokenizer_for(lexicon)
    assert in_processes == [[json.dumps(cut(text), ensure_ascii=False) for text in block] for block in blocks]
    # The learned names reach the workers: a name jieba alone would split is one token there.
    assert any("宁波城投集团" in json.loads(tokens) for block in in_processes for tokens in block)


def test_a_small_ingest_cuts_in_its_own_process(monkeypatch):
    def no_workers(*args):
        raise AssertionError("a worker process was started")

    monkeypatch.setattr(token_cut, "_cut_in_processes", no_workers)
    cutter = block_cutter(build_lexicon([]), 1_000, workers=2)
    tokens = tokenizer_for(build_lexicon([]))("宁波城投集团发行了数字藏品")
    assert list(cutter(iter([["宁波城投集团发行了数字藏品"]]))) == [[json.dumps(tokens, ensure_ascii=False)]]


def test_a_worker_serves_blocks_line_by_line():
    import io

    lexicon = build_lexicon([(NameFinding("宁波城投集团", "quoted"), 2)])
    lines_in = io.StringIO(lexicon.to_json() + "\n" + json.dumps(["宁波城投集团发行了数字藏品", ""]) + "\n")
    lines_out = io.StringIO()
    token_cut.serve(lines_in, lines_out)
    assert [json.loads(t) for t in json.loads(lines_out.getvalue())] == [tokenizer_for(lexicon)("宁波城投集团发行了数字藏品"), []]


def test_a_dead_worker_is_a_clear_error(monkeypatch):
    lexicon = build_lexicon([])
    monkeypatch.setattr(type(lexicon), "to_json", lambda self: "this is no lexicon")
    with pytest.raises(token_cut.CutWorkerError, match="exited with code"):
        list(block_cutter(lexicon, 10, workers=2, parallel_from=1)(iter([["一段文字"], ["另一段"], ["第三段"]])))
