"""An ingest run as its own process, for tests/ingest/test_resume.py to kill with SIGKILL.

    python -m tests.ingest.resume_child CORPUS INDEX fake|real DELAY BATCH_CHUNKS EMBED_BATCH

Embeds with the hash embedder (or the real model) slowed by DELAY seconds per call, so the
test can kill it after some batches were persisted and before it publishes.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from rag.config import Settings
from rag.embed.base import Embedder
from rag.ingest.pipeline import ingest


class SlowEmbedder:
    """Any embedder, ``delay`` seconds slower per call; the same name, so its vectors are reusable."""

    def __init__(self, inner: Embedder, delay: float):
        self.inner = inner
        self.delay = delay
        self.name = inner.name
        self.dimension = inner.dimension

    def warm_up(self) -> None:
        self.inner.warm_up()

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        time.sleep(self.delay)
        return self.inner.embed_passages(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.inner.embed_query(text)


def child_settings(root: Path, batch_chunks: int, embed_batch: int) -> Settings:
    return Settings(_env_file=None, data_dir=root / "runtime", index_dir=root / "unused-index", mode="extractive",
                    ingest_batch_chunks=batch_chunks, embedding_batch_size=embed_batch)


def main(argv: list[str]) -> None:
    corpus, index, backend, delay, batch_chunks, embed_batch = argv
    settings = child_settings(Path(index).parent, int(batch_chunks), int(embed_batch))
    if backend == "fake":
        from rag.embed.fake import HashEmbedder

        inner: Embedder = HashEmbedder()
    else:
        from rag.embed.sentence_transformer import embedder_from_settings

        inner = embedder_from_settings(settings)
    ingest([Path(corpus)], Path(index), embedder=SlowEmbedder(inner, float(delay)), settings=settings, progress=False)


if __name__ == "__main__":
    main(sys.argv[1:])
