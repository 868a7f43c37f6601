"""A real kill: an ingest in its own process killed with SIGKILL after some embedded batches
were persisted, then run again. The second run embeds only what the first did not persist,
the live index stays the previous complete version until the new one is published, and the
published vectors are the ones each chunk's text gives."""

from __future__ import annotations

import os
import shutil
import sqlite3
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from rag.config import PROJECT_ROOT
from rag.embed.base import Embedder
from rag.embed.fake import HashEmbedder
from rag.index.store import current_version_dir, load_index
from rag.ingest.batches import EmbeddedBatches
from rag.ingest.pipeline import STAGING, ingest
from tests.ingest.kill_support import kill_when
from tests.ingest.resume_child import child_settings

CORPUS = PROJECT_ROOT / "data" / "corpus"


class RecordingEmbedder:
    """Any embedder, remembering every passage text it was asked to embed."""

    def __init__(self, inner: Embedder):
        self.inner = inner
        self.name = inner.name
        self.dimension = inner.dimension
        self.texts: list[str] = []

    def warm_up(self) -> None:
        self.inner.warm_up()

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        self.texts.extend(texts)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def _persisted_batches(index_dir: Path) -> int:
    db = index_dir / STAGING / "batches" / "batches.sqlite"
    if not db.exists():
        return 0
    try:
        connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True, timeout=0.2)
        try:
            return connection.execute("SELECT COUNT(*) FROM batch").fetchone()[0]
        finally:
            connection.close()
    except sqlite3.Error:  # created but not yet its tables, or busy for a moment
        return 0


def _kill_after(index_dir: Path, corpus: Path, backend: str, delay: float, batch_chunks: int, embed_batch: int,
                batches_before_kill: int, live_version: str, timeout: float) -> None:
    """Run the child ingest; SIGKILL it once ``batches_before_kill`` batches are persisted,
    checking all along that the live version is still ``live_version``."""
    def still_live() -> None:
        assert current_version_dir(index_dir).name == live_version  # the live index never moves meanwhile

    kill_when(
        [sys.executable, "-m", "tests.ingest.resume_child", str(corpus), str(index_dir), backend, str(delay),
         str(batch_chunks), str(embed_batch)],
        index_dir.parent / "child.log",
        lambda: _persisted_batches(index_dir) >= batches_before_kill,
        timeout=timeout, poll=0.05, cwd=PROJECT_ROOT, env={**os.environ, "PYTHONPATH": str(PROJECT_ROOT)},
        while_running=still_live,
    )


def _resume_case(tmp_path: Path, inner: Embedder, backend: str, files: list[str], first: str, delay: float,
                 batch_chunks: int, embed_batch: int, kill_after: int, timeout: float, atol: float = 1e-5) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    shutil.copy(CORPUS / first, corpus)
    index_dir = tmp_path / "index"
    settings = child_settings(tmp_path, batch_chunks, embed_batch)
    ingest([corpus], index_dir, embedder=inner, settings=settings, progress=False)  # the previous complete version
    before = load_index(index_dir)
    for name in files:
        shutil.copy(CORPUS / name, corpus)

    _kill_after(index_dir, corpus, backend, delay, batch_chunks, embed_batch, kill_after, before.version, timeout)

    # Killed: the previous version is still live and whole; the persisted batches are on disk.
    assert load_index(index_dir).version == before.version
    assert sorted(p.name for p in (index_dir / "versions").iterdir()) == [before.version]
    stored = EmbeddedBatches(index_dir / STAGING / "batches", inner.name, inner.dimension).open()
    persisted = stored.chunk_ids()
    stored.close()
    assert len(persisted) >= kill_after * batch_chunks

    recorder = RecordingEmbedder(inner)
    report = ingest([corpus], index_dir, embedder=recorder, settings=settings, progress=False)
    after = load_index(index_dir)
    assert after.version != before.version
    assert set(after.manifest.files) == {first, *files}

    # Nothing persisted before the kill was embedded again; everything else was, once.
    # (Texts, not ids, reach the embedder, and chunks that share a text share one embedding.)
    new_ids = {c.chunk_id for c in after.chunks} - set(before.by_id)
    assert persisted <= new_ids
    rest = {c.chunk_id: c.indexed_text for c in after.chunks if c.chunk_id in new_ids - persisted}
    assert Counter(recorder.texts) == Counter(set(rest.values()))
    assert report.chunks_embedded == len(rest) == len(new_ids) - len(persisted)
    assert report.chunks_resumed == len(persisted)

    # Every row holds the vector of its own text (batches assembled into the right rows).
    expected = inner.embed_passages([c.indexed_text for c in after.chunks])
    assert np.allclose(after.vectors(), expected, atol=atol)
    assert not (index_dir / STAGING).exists()  # cleared once published


def test_killed_ingest_resumes_without_embedding_persisted_batches_again(tmp_path: Path):
    names = sorted(p.name for p in CORPUS.glob("*.txt"))
    _resume_case(tmp_path, HashEmbedder(), "fake", names[1:], names[0], delay=0.15, batch_chunks=48,
                 embed_batch=16, kill_after=3, timeout=120)


@pytest.mark.slow
def test_killed_ingest_resumes_with_the_real_model(tmp_path: Path, settings):
    """The same with the configured embedding model on one file (a few dozen chunks)."""
    from rag.embed.sentence_transformer import embedder_from_settings

    names = sorted(p.name for p in CORPUS.glob("*.txt"))
    real = embedder_from_settings(settings)
    real.warm_up()
    _resume_case(tmp_path, real, "real", [names[2]], names[3], delay=0.2, batch_chunks=16, embed_batch=8,
                 kill_after=2, timeout=300, atol=2e-3)
