"""The on-disk index: FAISS vectors, BM25 tokens, chunk metadata and a manifest.

Layout under the index directory:

    CURRENT                 name of the live version (replaced atomically)
    versions/<name>/
        manifest.json       embedder, dimension, chunking parameters, per-file hashes
        chunks.sqlite       chunk texts, metadata and BM25 tokens; row i = FAISS id i
        dense.faiss         IndexFlatIP over normalised vectors

A new version is written completely before CURRENT points to it, so a process
killed mid-ingest leaves the previous version live. Nothing is ever unpickled:
FAISS has its own binary format, the rest is SQLite and JSON; BM25 statistics are
rebuilt from the stored tokens at load time (milliseconds for this corpus size).
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexCorruptError, IndexNotFoundError
from rag.types import Chunk

log = logging.getLogger(__name__)

MANIFEST_VERSION = 1
_CHUNK_FIELDS = ("chunk_id", "file", "article_index", "title", "section", "byline", "source", "text", "start", "end", "date")


@dataclass
class FileRecord:
    sha256: str
    articles: int
    chunks: int
    size: int = 0


@dataclass
class Manifest:
    embedder: str
    dimension: int
    chunking: dict[str, int]
    files: dict[str, FileRecord] = field(default_factory=dict)
    pipeline: str = ""  # fingerprint of the cleaning/segmenting/chunking code
    created: float = field(default_factory=time.time)
    version: int = MANIFEST_VERSION

    def to_json(self) -> str:
        data = {
            "version": self.version,
            "embedder": self.embedder,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "pipeline": self.pipeline,
            "created": self.created,
            "files": {name: vars(rec) for name, rec in sorted(self.files.items())},
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        data = json.loads(text)
        return cls(
            embedder=data["embedder"],
            dimension=int(data["dimension"]),
            chunking={k: int(v) for k, v in data["chunking"].items()},
            files={name: FileRecord(**rec) for name, rec in data["files"].items()},
            pipeline=str(data.get("pipeline", "")),
            created=float(data.get("created", 0)),
            version=int(data.get("version", MANIFEST_VERSION)),
        )


class IndexData:
    """A loaded, read-only index version: chunks, their vectors, their BM25 tokens."""

    def __init__(self, path: Path, manifest: Manifest, chunks: list[Chunk], tokens: list[list[str]], faiss_index: Any):
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.tokens = tokens
        self.faiss_index = faiss_index
        self.by_id = {c.chunk_id: i for i, c in enumerate(chunks)}

    @property
    def version(self) -> str:
        return self.path.name

    def vectors(self) -> np.ndarray:
        n = self.faiss_index.ntotal
        if n == 0:
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return self.faiss_index.reconstruct_n(0, n)

    def rows_for_file(self, file: str) -> list[int]:
        return [i for i, c in enumerate(self.chunks) if c.file == file]


def current_version_dir(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    name = pointer.read_text(encoding="utf-8").strip()
    path = index_dir / "versions" / name
    return path if path.is_dir() else None


def load_index(index_dir: Path) -> IndexData:
    import faiss

    path = current_version_dir(index_dir)
    if path is None:
        raise IndexNotFoundError(
            f"还没有建立索引，请先运行 `rag ingest` (no index in {index_dir}: run `rag ingest` first)"
        )
    manifest = Manifest.from_json((path / "manifest.json").read_text(encoding="utf-8"))
    faiss_index = faiss.read_index(str(path / "dense.faiss"))
    connection = sqlite3.connect(f"file:{path / 'chunks.sqlite'}?mode=ro", uri=True)
    try:
        rows = connection.execute(
            f"SELECT {', '.join(_CHUNK_FIELDS)}, tokens FROM chunks ORDER BY row"
        ).fetchall()
    finally:
        connection.close()
    chunks = [Chunk(**dict(zip(_CHUNK_FIELDS, row[:-1]))) for row in rows]
    tokens = [json.loads(row[-1]) for row in rows]
    if faiss_index.ntotal != len(chunks):
        raise IndexCorruptError(
            f"索引已损坏，请重新运行 `rag ingest` (index {path} is inconsistent: "
            f"{faiss_index.ntotal} vectors, {len(chunks)} chunks)"
        )
    log.info("loaded index %s: %d chunks", path.name, len(chunks))
    return IndexData(path, manifest, chunks, tokens, faiss_index)


def write_index(
    index_dir: Path, manifest: Manifest, chunks: list[Chunk], tokens: list[list[str]], vectors: np.ndarray
) -> Path:
    """Write a complete new version, then switch CURRENT to it atomically; prune old versions."""
    import faiss

    if len(chunks) != len(tokens) or len(chunks) != len(vectors):
        raise ValueError("chunks, tokens and vectors must align")
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    tmp = versions / f".tmp-{name}"
    tmp.mkdir()
    try:
        index = faiss.IndexFlatIP(manifest.dimension)
        if len(vectors):
            index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        faiss.write_index(index, str(tmp / "dense.faiss"))
        connection = sqlite3.connect(tmp / "chunks.sqlite")
        try:
            connection.execute(
                "CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT, file TEXT, article_index INTEGER, "
                "title TEXT, section TEXT, byline TEXT, source TEXT, text TEXT, start INTEGER, end INTEGER, "
                "date TEXT, tokens TEXT)"
            )
            connection.executemany(
                "INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                [
                    (row, *(getattr(c, f) for f in _CHUNK_FIELDS), json.dumps(tok, ensure_ascii=False))
                    for row, (c, tok) in enumerate(zip(chunks, tokens))
                ],
            )
            connection.execute("CREATE INDEX chunks_file ON chunks(file)")
            connection.commit()
        finally:
            connection.close()
        (tmp / "manifest.json").write_text(manifest.to_json(), encoding="utf-8")
        _fsync_tree(tmp)
        final = versions / name
        tmp.rename(final)
        pointer_tmp = index_dir / f".CURRENT-{name}"
        pointer_tmp.write_text(name, encoding="utf-8")
        _fsync_file(pointer_tmp)
        os.replace(pointer_tmp, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(versions, keep=final.name)
    return final


def _prune(versions: Path, keep: str) -> None:
    """Remove other versions and leftovers of killed ingests (readers have the live one open)."""
    for entry in versions.iterdir():
        if entry.name != keep:
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_file(path: Path) -> None:
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_tree(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_file():
            _fsync_file(entry)
    _fsync_dir(path)
