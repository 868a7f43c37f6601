"""The ingest pipeline on the real corpus: totals, cleanliness, incremental updates, one ingest
at a time, crash safety. (The on-disk format itself is tested in tests/index/test_store.py.)"""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from filelock import FileLock

from rag.config import PROJECT_ROOT
from rag.errors import IndexBusyError, RagError
from rag.index.store import current_version_dir, load_index
from rag.ingest.pipeline import chunks_from_file, ingest, pipeline_fingerprint
from tests.ingest.kill_support import kill_when

CORPUS = PROJECT_ROOT / "data" / "corpus"
LONE_PAGE_NUMBER = re.compile(r"^\s*(第\s*)?[-—]?\s*\d{1,3}\s*[-—]?(\s*页)?\s*$")
NEW_PARAGRAPH = (
    "补充报道：崂山区还将建设一座名为“海岸线数据中心”的绿色算力设施，"
    "规划机柜三千个，采用海水冷却技术，预计二〇二六年投入使用，为区内人工智能企业提供低成本算力。"
    "相关负责人表示，这一设施将与城市云脑平台打通，进一步提升城市治理的智能化水平。"
    "项目建成后，每年可节约用电约两千万千瓦时。"
)


@pytest.fixture(scope="module")
def index(index_dir: Path):
    return load_index(index_dir)


def _file(prefix: str) -> str:
    return next(p.name for p in CORPUS.glob("*.txt") if p.name.startswith(prefix))


# ------------------------------------------------------------------ the real index
def test_totals_match_manifest(index):
    manifest = index.manifest
    assert set(manifest.files) == {p.name for p in CORPUS.glob("*.txt")}
    assert sum(r.chunks for r in manifest.files.values()) == len(index.chunks) == index.faiss_index.ntotal
    assert len(index.tokens) == len(index.chunks)
    for name, record in manifest.files.items():
        rows = index.rows_for_file(name)
        assert len(rows) == record.chunks
        assert len({index.chunks[r].article_index for r in rows}) == record.articles
        assert record.size == (CORPUS / name).stat().st_size
    assert manifest.files[_file("000")].articles == 10
    assert manifest.chunking == {"size": 400, "overlap": 80, "max_size": 600}
    assert manifest.dimension == 384
    # vectors are L2-normalised (inner product = cosine)
    norms = np.linalg.norm(index.vectors(), axis=1)
    assert np.allclose(norms, 1.0, atol=1e-3)


def test_no_page_furniture_in_chunks(index):
    for chunk in index.chunks:
        assert "图片来源" not in chunk.text, chunk.chunk_id
        for line in chunk.text.split("\n"):
            assert not LONE_PAGE_NUMBER.match(line), (chunk.chunk_id, line)


def test_pdf_spaces_are_gone_from_chunks(index):
    assert any("21世纪经济报道" in c.text for c in index.chunks)
    assert not any("21 世纪" in c.text for c in index.chunks)
    assert not any("21 世纪" in c.source or "21 世纪" in c.title for c in index.chunks)
    assert all(c.chunk_id == index.chunks[index.by_id[c.chunk_id]].chunk_id for c in index.chunks)
    assert len(index.by_id) == len(index.chunks)


def test_reingest_of_unchanged_corpus_embeds_nothing(index_dir: Path, settings):
    before = current_version_dir(index_dir)
    report = ingest([CORPUS], index_dir, settings=settings, progress=False)
    assert report.chunks_embedded == 0
    assert report.files_changed == [] and report.files_removed == [] and report.errors == {}
    assert current_version_dir(index_dir) == before  # nothing was rewritten
    assert report.chunks == len(load_index(index_dir).chunks)


# ------------------------------------------------------------------ incremental update
def test_incremental_update_embeds_only_the_changed_file(index, index_dir: Path, settings, tmp_path: Path):
    from rag.embed.sentence_transformer import embedder_from_settings

    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    work_index = tmp_path / "index"
    shutil.copytree(index_dir, work_index)
    changed, removed = _file("003"), _file("002")
    with open(corpus / changed, "a", encoding="utf-8") as handle:
        handle.write("\n崂山区建设绿色算力设施\n\n" + NEW_PARAGRAPH + "\n")
    (corpus / removed).unlink()

    _, new_chunks = chunks_from_file(corpus / changed, changed, settings)
    expected_new = [c for c in new_chunks if c.chunk_id not in index.by_id]
    assert expected_new and len(expected_new) < len(new_chunks)  # most of the file is unchanged

    report = ingest([corpus], work_index, embedder=embedder_from_settings(settings), settings=settings, progress=False)
    assert report.files_changed == [changed]
    assert report.files_removed == [removed]
    assert report.chunks_embedded == len(expected_new)
    assert report.errors == {}

    updated = load_index(work_index)
    assert removed not in updated.manifest.files
    assert not any(c.file == removed for c in updated.chunks)
    assert updated.manifest.files[changed].sha256 != index.manifest.files[changed].sha256
    assert any("海岸线数据中心" in c.text for c in updated.chunks if c.file == changed)
    assert len(updated.chunks) == len(index.chunks) - index.manifest.files[removed].chunks \
        - index.manifest.files[changed].chunks + len(new_chunks)
    # Vectors of untouched chunks are carried over unchanged; the new chunk got a real vector.
    old_vectors, new_vectors = index.vectors(), updated.vectors()
    for row, chunk in enumerate(updated.chunks):
        if chunk.chunk_id in index.by_id:
            assert np.array_equal(new_vectors[row], old_vectors[index.by_id[chunk.chunk_id]])
        else:
            assert abs(float(np.linalg.norm(new_vectors[row])) - 1.0) < 1e-3
    # the original index is untouched
    assert load_index(index_dir).version == index.version


# ------------------------------------------------------------------ one ingest at a time
def test_second_ingest_on_a_busy_index_fails_at_once(tmp_path: Path, settings):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / _file("003"), corpus)
    work_index = tmp_path / "index"
    work_index.mkdir()
    with FileLock(work_index / ".ingest.lock", timeout=0):  # as another process's ingest would
        started = time.monotonic()
        with pytest.raises(IndexBusyError) as excinfo:
            ingest([corpus], work_index, settings=settings, progress=False)
        assert time.monotonic() - started < 5  # refused, not queued
    assert isinstance(excinfo.value, RagError)
    assert str(excinfo.value).startswith("另一个导入正在进行")
    assert current_version_dir(work_index) is None  # nothing was written


def test_fingerprint_covers_the_sentence_splitter(monkeypatch, tmp_path: Path):
    """Chunk boundaries come from rag.text.sentences: changing it must re-chunk every file."""
    from rag.text import sentences

    before = pipeline_fingerprint()
    changed = tmp_path / "sentences.py"
    changed.write_bytes(Path(sentences.__file__).read_bytes() + b"\n# changed\n")
    monkeypatch.setattr(sentences, "__file__", str(changed))
    assert pipeline_fingerprint() != before


# ------------------------------------------------------------------ crash safety
def _rag_script() -> Path:
    return Path(sys.executable).parent / "rag"


@pytest.mark.slow
def test_killed_ingest_leaves_previous_version_live(index, index_dir: Path, tmp_path: Path):
    work_index = tmp_path / "index"
    shutil.copytree(index_dir, work_index)
    before = load_index(work_index)
    versions_before = sorted(p.name for p in (work_index / "versions").iterdir())
    runtime = tmp_path / "runtime"
    runtime.mkdir()
    env = {**os.environ, "RAG_CHUNK_SIZE": "350", "RAG_INDEX_DIR": str(tmp_path / "unused-index"),
           "RAG_DATA_DIR": str(runtime)}
    log = tmp_path / "ingest.log"
    progress = re.compile(r"embedding:\s+\d+%\|[^|]*\|\s*([1-9]\d*)/(\d+)")
    match = kill_when(
        [str(_rag_script()), "ingest", str(CORPUS), "--index", str(work_index)], log,
        lambda: progress.search(log.read_text(encoding="utf-8", errors="replace")),
        timeout=240, poll=0.5, cwd=tmp_path, env=env,
    )
    done, total = int(match.group(1)), int(match.group(2))
    assert total > 500 and done < total  # a new chunk size means nearly every chunk is re-embedded

    after = load_index(work_index)
    assert after.version == before.version
    assert len(after.chunks) == len(before.chunks)
    assert after.manifest.chunking["size"] == 400
    assert sorted(p.name for p in (work_index / "versions").iterdir()) == versions_before  # nothing new left behind

    # Leftovers of an ingest killed while writing must not break the next one either.
    leftover = work_index / "versions" / ".tmp-20000101-000000-1-000000"
    leftover.mkdir()
    (leftover / "dense.faiss").write_bytes(b"half written")
    (work_index / ".CURRENT-20000101-000000-1-000000").write_text("garbage", encoding="utf-8")
    assert load_index(work_index).version == before.version

    # The next ingest (here of one file: the others are removed, nothing to embed) takes the lock and succeeds.
    subset = tmp_path / "subset"
    subset.mkdir()
    shutil.copy(CORPUS / _file("003"), subset)
    report = ingest([subset], work_index, settings=_settings_for(tmp_path), progress=False)
    assert report.chunks_embedded == 0
    assert report.files == 1 and len(report.files_removed) == 4
    final = load_index(work_index)
    assert final.version != before.version
    assert set(final.manifest.files) == {_file("003")}
    # Leftovers pruned; the version it replaced is kept for `rag index rollback`.
    assert sorted(p.name for p in (work_index / "versions").iterdir()) == sorted([before.version, final.version])


def _settings_for(tmp_path: Path):
    from rag.config import Settings

    return Settings(_env_file=None, data_dir=tmp_path / "runtime", index_dir=tmp_path / "unused-index", mode="extractive")


# ------------------------------------------------------------------ names learned from the corpus
def test_the_index_keeps_the_names_its_corpus_defines(index):
    assert index.lexicon.others("宁波城投集团") == ("宁波城建投资集团有限公司",)
    rows = [row for row, chunk in enumerate(index.chunks) if "宁波城投集团" in chunk.text]
    assert rows and all("宁波城投集团" in index.tokens[row] for row in rows)


NEW_WORD_FILE = (
    "北京金融街再出新政\n\n北京市西城区近日发布“金服十条”实施细则，"
    "围绕金融科技企业落户、人才公寓和办公用房补贴给出具体标准，"
    "首批二十家机构已经提交申请，区金融办表示将在一个月内完成审核。\n"
)


def _corpus_with_a_new_word(index_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A copy of the corpus plus a file that quotes “金服十条” a second time, and a copy of the index."""
    corpus = tmp_path / "corpus"
    shutil.copytree(CORPUS, corpus)
    work_index = tmp_path / "index"
    shutil.copytree(index_dir, work_index)
    (corpus / "009_new.txt").write_text(NEW_WORD_FILE, encoding="utf-8")
    return corpus, work_index


def test_a_new_file_that_makes_a_word_recuts_the_unchanged_files(index, index_dir: Path, settings, tmp_path: Path):
    from rag.embed.sentence_transformer import embedder_from_settings

    old_file = _file("000")
    assert "金服十条" not in index.lexicon.words  # quoted once in the corpus: not yet a name
    corpus, work_index = _corpus_with_a_new_word(index_dir, tmp_path)
    report = ingest([corpus], work_index, embedder=embedder_from_settings(settings), settings=settings, progress=False)
    assert report.files_changed == ["009_new.txt"]
    assert report.chunks_embedded == report.per_file["009_new.txt"].chunks  # no other chunk re-embedded

    updated = load_index(work_index)
    assert updated.lexicon.words["金服十条"] == "nz"
    old_rows = [r for r, c in enumerate(updated.chunks) if c.file == old_file and "金服十条" in c.text]
    assert old_rows and all("金服十条" in updated.tokens[r] for r in old_rows)  # cut again with the new word


def test_tokens_cut_in_worker_processes_are_the_ones_one_process_cuts(index_dir: Path, settings, tmp_path: Path,
                                                                      monkeypatch):
    from rag.embed.sentence_transformer import embedder_from_settings
    from rag.index.tokenize import tokenizer_for
    from rag.ingest import token_cut

    monkeypatch.setattr(token_cut, "PARALLEL_FROM", 1)  # every row is cut again, in two processes
    corpus, work_index = _corpus_with_a_new_word(index_dir, tmp_path)
    ingest([corpus], work_index, embedder=embedder_from_settings(settings), settings=settings, progress=False)
    updated = load_index(work_index)
    cut = tokenizer_for(updated.lexicon)
    assert "金服十条" in updated.lexicon.words
    assert [list(tokens) for tokens in updated.tokens] == [cut(chunk.indexed_text) for chunk in updated.chunks]
