"""Incremental ingest into any :class:`~rag.stores.base.RetrievalStore`, by file hash.

The same decisions as rag.ingest.pipeline (which stays the path of the embedded store):
an unchanged file (same sha256, embedder, chunking and pipeline code) is left alone; a
changed or new one is re-chunked and replaced whole, its vectors reused per chunk id
when the store holds them from the same embedder; a file gone from the folders is
deleted; another embedder starts the store afresh. Nothing changed: nothing is written.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.config import Settings
from rag.embed.base import Embedder
from rag.fileutil import sha256_file
from rag.index.manifest import FileRecord, Manifest
from rag.index.store import writer_lock
from rag.index.tokenize import tokenize
from rag.ingest.loaders import SUPPORTED_SUFFIXES
from rag.ingest.pipeline import IngestReport, discover, pipeline_fingerprint, read_chunks
from rag.stores.base import RetrievalStore

log = logging.getLogger(__name__)


def ingest_into_store(
    store: RetrievalStore,
    paths: Iterable[Path],
    settings: Settings,
    embedder: Embedder | None = None,
    progress: bool = True,
    on_progress: Callable[[str, float], None] | None = None,
    lock_dir: Path | None = None,
) -> IngestReport:
    """Bring ``store`` in line with the files under ``paths``; ``lock_dir`` holds the writer lock."""
    began = time.perf_counter()
    report = IngestReport()
    files = discover(paths)
    fingerprint = pipeline_fingerprint()
    chunking = {"size": settings.chunk_size, "overlap": settings.chunk_overlap, "max_size": settings.chunk_max_size}
    from rag.embed.factory import embedder_name as configured_name

    name = embedder.name if embedder is not None else configured_name(settings)

    def get_embedder() -> Embedder:
        nonlocal embedder
        if embedder is None:
            from rag.embed.factory import embedder_from_settings

            embedder = embedder_from_settings(settings)
        return embedder

    with writer_lock(Path(lock_dir or settings.index_dir)):
        store.warm_up()
        previous = store.manifest()
        same_embedder = previous is not None and previous.embedder == name
        if not same_embedder:
            dimension = get_embedder().dimension
            if previous is not None:
                log.info("embedder changed (%s -> %s): the store starts afresh", previous.embedder, name)
            store.reset(dimension)
            previous = None
        else:
            assert previous is not None
            dimension = previous.dimension
        same_chunking = previous is not None and previous.chunking == chunking and previous.pipeline == fingerprint
        if previous is not None and not same_chunking:
            log.info("chunking or pipeline code changed: re-chunking every file")
        old_files = dict(previous.files) if previous is not None else {}
        kept: dict[str, FileRecord] = {}

        bar = tqdm(sorted(files.items()), desc="reading", unit="file", disable=not progress)
        for step, (file, path) in enumerate(bar):
            if on_progress:
                on_progress(f"reading {file}", step / max(len(files), 1))
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                report.errors[file] = f"unsupported file type {path.suffix or '(none)'!r}"
                log.warning("skipped %s: %s", path, report.errors[file])
                continue
            sha = sha256_file(path)
            old = old_files.get(file)
            if same_chunking and old is not None and old.sha256 == sha:
                kept[file] = old
                continue
            read = read_chunks(path, file, settings, report)
            if read is None:
                continue
            articles, chunks = read
            tokens = [tokenize(c.indexed_text) for c in chunks]
            reusable = store.vectors_for([c.chunk_id for c in chunks]) if previous is not None else {}
            vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
            missing = [i for i, c in enumerate(chunks) if c.chunk_id not in reusable]
            for i, c in enumerate(chunks):
                if c.chunk_id in reusable:
                    vectors[i] = reusable[c.chunk_id]
            batch = max(settings.embedding_batch_size, 1)
            for start in range(0, len(missing), batch):
                positions = missing[start : start + batch]
                vectors[positions] = get_embedder().embed_passages([chunks[p].indexed_text for p in positions])
            record = FileRecord(sha256=sha, articles=len(articles), chunks=len(chunks), size=path.stat().st_size)
            store.replace_file(file, record, chunks, tokens, vectors)
            kept[file] = record
            report.files_changed.append(file)
            report.chunks_embedded += len(missing)

        report.files_removed = sorted(set(old_files) - set(kept))
        for file in report.files_removed:
            store.delete_file(file)
        if previous is None or report.files_changed or report.files_removed:
            manifest = Manifest(embedder=name, dimension=dimension, chunking=chunking, pipeline=fingerprint)
            store.commit(manifest)
        report.files = len(kept)
        report.per_file = dict(sorted(kept.items()))
        report.articles = sum(r.articles for r in kept.values())
        report.chunks = sum(r.chunks for r in kept.values())
        report.seconds = time.perf_counter() - began
        if on_progress:
            on_progress("done", 1.0)
        return report
