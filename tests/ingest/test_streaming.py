"""The streaming ingest with the hash embedder (seconds): an incremental version equals one
built from scratch, the dense index turns approximate above the threshold, and an unchanged
corpus writes nothing."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from rag.config import PROJECT_ROOT, Settings
from rag.embed.fake import HashEmbedder
from rag.index.dense_index import describe
from rag.index.store import current_version_dir, load_index
from rag.ingest.pipeline import STAGING, ingest

CORPUS = PROJECT_ROOT / "data" / "corpus"


def _settings(tmp_path: Path, **values) -> Settings:
    return Settings(_env_file=None, data_dir=tmp_path / "runtime", index_dir=tmp_path / "unused", mode="extractive",
                    ingest_batch_chunks=64, **values)


def test_incremental_version_equals_one_built_from_scratch(tmp_path: Path):
    names = sorted(p.name for p in CORPUS.glob("*.txt"))
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name in names[:3]:
        shutil.copy(CORPUS / name, corpus)
    settings, embedder = _settings(tmp_path), HashEmbedder()
    ingest([corpus], tmp_path / "a", embedder=embedder, settings=settings, progress=False)
    (corpus / names[0]).unlink()
    shutil.copy(CORPUS / names[3], corpus)
    with open(corpus / names[1], "a", encoding="utf-8") as handle:
        handle.write("\n新增段落：某基金宣布下调管理费至百分之一。\n")
    messages: list[tuple[str, float]] = []
    report = ingest([corpus], tmp_path / "a", embedder=embedder, settings=settings, progress=False,
                    on_progress=lambda m, f: messages.append((m, f)))
    assert report.files_removed == [names[0]] and sorted(report.files_changed) == sorted([names[1], names[3]])
    ingest([corpus], tmp_path / "b", embedder=embedder, settings=settings, progress=False)
    incremental, scratch = load_index(tmp_path / "a"), load_index(tmp_path / "b")
    assert incremental.chunks == scratch.chunks and incremental.tokens == scratch.tokens
    np.testing.assert_allclose(incremental.vectors(), scratch.vectors(), atol=1e-6)
    assert incremental.manifest.files == scratch.manifest.files
    assert report.chunks_embedded < len(incremental.chunks)
    fractions = [f for _, f in messages]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert any(m.startswith("向量化") and "段/秒" in m for m, _ in messages)  # rate (and ETA: test_progress)
    assert not (tmp_path / "a" / STAGING).exists()

    before = current_version_dir(tmp_path / "a")
    again = ingest([corpus], tmp_path / "a", embedder=embedder, settings=settings, progress=False)
    assert again.chunks_embedded == 0 and current_version_dir(tmp_path / "a") == before


def test_dense_index_turns_approximate_above_the_threshold(tmp_path: Path):
    settings = _settings(tmp_path, faiss_exact_max=100, faiss_factory="HNSW16")
    embedder = HashEmbedder()
    ingest([CORPUS], tmp_path / "index", embedder=embedder, settings=settings, progress=False)
    index = load_index(tmp_path / "index")
    assert index.manifest.dense_index == "HNSW16" and describe(index.faiss_index) == "IndexHNSWFlat"
    vectors = index.vectors()
    _, rows = index.faiss_index.search(vectors[:20], 1)
    assert (rows[:, 0] == np.arange(20)).mean() >= 0.9


class CountingEmbedder(HashEmbedder):
    """The hash embedder, counting the passages it is given."""

    def __init__(self) -> None:
        super().__init__()
        self.passages = 0

    def embed_passages(self, texts):
        self.passages += len(texts)
        return super().embed_passages(texts)


def test_a_text_printed_twice_is_embedded_once(tmp_path: Path):
    name = sorted(p.name for p in CORPUS.glob("*.txt"))[3]
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / name, corpus / name)
    shutil.copy(CORPUS / name, corpus / f"copy-{name}")  # the same paper filed twice: same texts, other chunk ids
    embedder = CountingEmbedder()
    report = ingest([corpus], tmp_path / "index", embedder=embedder, settings=_settings(tmp_path), progress=False)
    index = load_index(tmp_path / "index")
    half = len(index.chunks) // 2
    assert report.chunks_embedded == len(index.chunks) == 2 * half
    assert embedder.passages == half
    rows = {c.chunk_id: r for r, c in enumerate(index.chunks)}
    vectors = index.vectors()
    for row, chunk in enumerate(index.chunks[:half]):
        twin = next(r for r, c in enumerate(index.chunks) if r >= half and c.indexed_text == chunk.indexed_text)
        assert chunk.chunk_id != index.chunks[twin].chunk_id and rows[chunk.chunk_id] == row
        np.testing.assert_array_equal(vectors[row], vectors[twin])
