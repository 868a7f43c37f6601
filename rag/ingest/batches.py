"""Embedded batches persisted as they complete, so a killed ingest resumes where it stopped.

Layout under the staging folder (``index/staging/batches/``; never inside ``versions/``,
so the live index is untouched until a complete version is published):

    batches.sqlite      meta (embedder name, dimension); one row per batch (file name,
                        sha256, rows); one row per chunk id (batch, row in the batch)
    batch-000001.npy    float32 vectors of one batch (numpy's own format, no pickles)

A batch's ``.npy`` is written, synced and renamed into place before its rows are
committed: a kill in between leaves an orphan file, removed on the next open, and never a
row without its vectors. Opening checks every batch's sha256 and drops the damaged
ones (their chunks are embedded again). Vectors are keyed by chunk id (a content hash)
and embedder name, so they are valid for whichever ingest needs those chunks next; the
pipeline clears the store once a version holding them is published.
"""

from __future__ import annotations

import logging
import os
import shutil
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from rag.fileutil import fsync_dir, sha256_file

log = logging.getLogger(__name__)


class EmbeddedBatches:
    """Chunk id -> vector, persisted one batch at a time. Cheap to construct; :meth:`open` reads."""

    def __init__(self, folder: Path, embedder: str, dimension: int):
        self.folder = Path(folder)
        self.embedder = embedder
        self.dimension = dimension
        self._db: sqlite3.Connection | None = None
        self._where: dict[str, tuple[int, int]] = {}  # chunk id -> (batch, row)
        self._files: dict[int, str] = {}

    # ------------------------------------------------------------------ opening
    def open(self) -> EmbeddedBatches:
        """Read what earlier runs persisted (dropping damaged batches and another embedder's)."""
        self.folder.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.folder / "batches.sqlite")
        self._db.execute("PRAGMA synchronous = FULL")
        self._db.executescript(
            "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);"
            "CREATE TABLE IF NOT EXISTS batch (id INTEGER PRIMARY KEY, file TEXT, sha256 TEXT, rows INTEGER);"
            "CREATE TABLE IF NOT EXISTS vector (chunk_id TEXT PRIMARY KEY, batch INTEGER, row INTEGER);"
        )
        meta = dict(self._db.execute("SELECT key, value FROM meta").fetchall())
        wanted = {"embedder": self.embedder, "dimension": str(self.dimension)}
        if meta and meta != wanted:
            log.info("persisted batches are from another embedder (%s): discarded", meta.get("embedder"))
            self._drop_all()
        self._db.executemany("INSERT OR REPLACE INTO meta VALUES (?, ?)", wanted.items())
        self._db.commit()
        self._check_batches()
        return self

    def _check_batches(self) -> None:
        assert self._db is not None
        good: dict[int, str] = {}
        for batch_id, file, sha, rows in self._db.execute("SELECT id, file, sha256, rows FROM batch").fetchall():
            path = self.folder / file
            if path.is_file() and sha256_file(path) == sha:
                good[batch_id] = file
                continue
            log.warning("persisted batch %s is missing or damaged: its %d chunks will be embedded again", file, rows)
            self._db.execute("DELETE FROM vector WHERE batch = ?", (batch_id,))
            self._db.execute("DELETE FROM batch WHERE id = ?", (batch_id,))
        self._db.commit()
        known = set(good.values())
        for path in self.folder.glob("batch-*"):
            if path.name not in known:  # written before its rows were committed: the kill came in between
                path.unlink(missing_ok=True)
        self._files = good
        self._where = {cid: (b, r) for cid, b, r in self._db.execute("SELECT chunk_id, batch, row FROM vector")}

    def _drop_all(self) -> None:
        assert self._db is not None
        self._db.executescript("DELETE FROM vector; DELETE FROM batch; DELETE FROM meta;")
        self._db.commit()

    # ------------------------------------------------------------------ use
    def __len__(self) -> int:
        return len(self._where)

    def __contains__(self, chunk_id: object) -> bool:
        return chunk_id in self._where

    @property
    def batches(self) -> int:
        return len(self._files)

    def chunk_ids(self) -> set[str]:
        return set(self._where)

    def put(self, chunk_ids: list[str], vectors: np.ndarray) -> None:
        """Persist one embedded batch (durably: it survives a kill right after this returns)."""
        if self._db is None:
            raise RuntimeError("EmbeddedBatches.open() first")
        vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        if vectors.shape != (len(chunk_ids), self.dimension):
            raise ValueError(f"expected {len(chunk_ids)} vectors of dimension {self.dimension}, got {vectors.shape}")
        if not chunk_ids:
            return
        batch_id = (self._db.execute("SELECT MAX(id) FROM batch").fetchone()[0] or 0) + 1
        file = f"batch-{batch_id:06d}.npy"
        tmp = self.folder / f".{file}.tmp"
        with open(tmp, "wb") as handle:
            np.save(handle, vectors, allow_pickle=False)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, self.folder / file)
        fsync_dir(self.folder)
        with self._db:
            self._db.execute("INSERT INTO batch VALUES (?, ?, ?, ?)", (batch_id, file, sha256_file(self.folder / file), len(chunk_ids)))
            self._db.executemany(
                "INSERT OR IGNORE INTO vector VALUES (?, ?, ?)", [(cid, batch_id, row) for row, cid in enumerate(chunk_ids)]
            )
        self._files[batch_id] = file
        for row, cid in enumerate(chunk_ids):
            self._where.setdefault(cid, (batch_id, row))

    def get(self, chunk_ids: Iterable[str]) -> np.ndarray:
        """The vectors of ``chunk_ids`` in that order (KeyError for one never persisted)."""
        ids = list(chunk_ids)
        out = np.empty((len(ids), self.dimension), dtype=np.float32)
        by_batch: dict[int, list[tuple[int, int]]] = {}
        for position, cid in enumerate(ids):
            batch_id, row = self._where[cid]
            by_batch.setdefault(batch_id, []).append((position, row))
        for batch_id, pairs in by_batch.items():
            stored = np.load(self.folder / self._files[batch_id], mmap_mode="r", allow_pickle=False)
            positions, rows = zip(*pairs)
            out[list(positions)] = stored[list(rows)]
        return out

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None

    def clear(self) -> None:
        """Forget everything (after a version holding these vectors is published)."""
        self.close()
        shutil.rmtree(self.folder, ignore_errors=True)
        self._where, self._files = {}, {}
