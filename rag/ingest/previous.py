"""The live version as an ingest reuses it: checked whole, read piecemeal.

``load_index`` builds every chunk and token list in memory, which a server needs and an
ingest does not: an ingest only copies the rows of unchanged files (as stored) and looks
vectors up by row or chunk id. This reader verifies the version's checksums like a load
does, then answers those questions from SQLite and FAISS.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexNotFoundError
from rag.index.manifest import Manifest
from rag.index.store import check_live
from rag.index.version import read_dense


class PreviousVersion:
    """One complete version, opened for reuse by the next ingest."""

    def __init__(self, path: Path, manifest: Manifest):
        self.path = path
        self.manifest = manifest
        self._dense: Any = None
        self._by_id: dict[str, int] | None = None

    @property
    def chunks_db(self) -> Path:
        return self.path / "chunks.sqlite"

    def _query(self, sql: str, *args: object) -> list[tuple[Any, ...]]:
        connection = sqlite3.connect(f"{self.chunks_db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            return connection.execute(sql, args).fetchall()
        finally:
            connection.close()

    def rows_for_file(self, file: str) -> list[int]:
        return [row for (row,) in self._query("SELECT row FROM chunks WHERE file = ? ORDER BY row", file)]

    def row_of(self, chunk_id: str) -> int | None:
        if self._by_id is None:
            self._by_id = {cid: row for row, cid in self._query("SELECT row, chunk_id FROM chunks")}
        return self._by_id.get(chunk_id)

    def vectors(self, rows: np.ndarray) -> np.ndarray:
        """The stored vectors of ``rows``, in that order."""
        if self._dense is None:
            self._dense = read_dense(self.path, self.manifest)
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return np.vstack([self._dense.reconstruct(int(r)) for r in rows]).astype(np.float32, copy=False)


def open_previous(index_dir: Path) -> PreviousVersion | None:
    """The live version (checksums verified), None when there is none; IndexCorruptError when damaged."""
    try:
        path, manifest = check_live(index_dir)
    except IndexNotFoundError:
        return None
    return PreviousVersion(path, manifest)
