"""One index version folder: its three files written, checksummed, read back and checked.

The folder-level concerns (CURRENT, several versions, rollback, pruning) live in
rag.index.store; this module knows only what one complete version looks like, and
describes damage as a VersionDamage (one Chinese and one English phrase naming the file)
instead of letting FAISS, SQLite or JSON tracebacks escape.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import re
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.fileutil import sha256_file
from rag.index.dense_index import DenseIndexSpec, build_index
from rag.index.manifest import Manifest
from rag.index.tokenize import EMPTY_LEXICON, Lexicon
from rag.types import Chunk

log = logging.getLogger(__name__)

VERSION_FILES = ("manifest.json", "chunks.sqlite", "dense.faiss")
CHECKSUMMED_FILES = ("dense.faiss", "chunks.sqlite")
_CHUNK_FIELDS = (
    "chunk_id", "file", "article_index", "title", "section", "byline", "source", "text", "start", "end", "date",
    "display_text",
)
# Columns added after the first index format: a version written before them has none,
# and its chunks load with the Chunk defaults.
_OPTIONAL_FIELDS = frozenset({"display_text"})
_FAISS_PREFIX = re.compile(r"^Error in .*? at \S+: ")


class IndexData:
    """A loaded, read-only index version: chunks, their vectors, their BM25 tokens."""

    def __init__(
        self, path: Path, manifest: Manifest, chunks: list[Chunk], tokens: list[list[str]], faiss_index: Any,
        lexicon: Lexicon = EMPTY_LEXICON,
    ):
        self.path = path
        self.manifest = manifest
        self.chunks = chunks
        self.tokens = tokens
        self.lexicon = lexicon  # the jieba user dictionary its tokens were cut with
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

    def vectors_at(self, rows: Sequence[int] | np.ndarray) -> np.ndarray:
        """The vectors of some rows only. A filtered search or a changed file needs a few
        rows; copying every vector out of FAISS for them costs 170 MB at 110k chunks."""
        rows = np.asarray(rows, dtype=np.int64)
        if not len(rows):
            return np.zeros((0, self.manifest.dimension), dtype=np.float32)
        return self.faiss_index.reconstruct_batch(rows)

    def rows_for_file(self, file: str) -> list[int]:
        return [i for i, c in enumerate(self.chunks) if c.file == file]


class VersionDamage(Exception):
    """What is wrong with one version folder, as one Chinese and one English phrase."""

    def __init__(self, zh: str, en: str):
        super().__init__(en)
        self.zh = zh
        self.en = en

    def line(self) -> str:
        return f"{self.zh} ({self.en})"


def read_version(path: Path) -> IndexData:
    """Read and check one version folder whole; raises VersionDamage naming what is wrong."""
    manifest = check_version_files(path)
    faiss_index = read_dense(path, manifest)
    chunks, tokens, lexicon = _read_chunks(path / "chunks.sqlite")
    if faiss_index.ntotal != len(chunks):
        raise VersionDamage(
            f"dense.faiss 有 {faiss_index.ntotal} 个向量，chunks.sqlite 有 {len(chunks)} 段，两者不一致",
            f"dense.faiss and chunks.sqlite are inconsistent: {faiss_index.ntotal} vectors, {len(chunks)} chunks",
        )
    return IndexData(path, manifest, chunks, tokens, faiss_index, lexicon)


def check_version_files(path: Path) -> Manifest:
    """The manifest, once every file is present and matches its recorded checksum (streamed:
    nothing is held in memory); raises VersionDamage."""
    manifest = _read_manifest(path)
    for name in VERSION_FILES[1:]:
        if not (path / name).is_file():
            raise VersionDamage(f"缺少 {name}", f"{name} is missing")
    if manifest.checksums:
        for name in CHECKSUMMED_FILES:
            expected = manifest.checksums.get(name)
            if expected is not None and sha256_file(path / name) != expected:
                raise VersionDamage(
                    f"{name} 与 manifest.json 记录的校验和不符（文件被改动或损坏）",
                    f"{name} does not match the sha256 recorded in manifest.json",
                )
    else:
        log.warning("index version %s has no checksums (written before they were recorded): not verified", path.name)
    return manifest


def read_dense(path: Path, manifest: Manifest) -> Any:
    """The version's FAISS index (flat or approximate), its dimension checked; raises VersionDamage."""
    import faiss

    try:
        faiss_index = faiss.read_index(str(path / "dense.faiss"))
    except RuntimeError as exc:
        reason = _FAISS_PREFIX.sub("", str(exc).splitlines()[0] if str(exc) else type(exc).__name__)
        raise VersionDamage("dense.faiss 无法读取（文件不完整或已损坏）", f"dense.faiss cannot be read: {reason}") from None
    if faiss_index.d != manifest.dimension:
        raise VersionDamage(
            f"dense.faiss 的向量维度 {faiss_index.d} 与 manifest.json 的 {manifest.dimension} 不符",
            f"dense.faiss has dimension {faiss_index.d}, the manifest says {manifest.dimension}",
        )
    return faiss_index


def _read_manifest(path: Path) -> Manifest:
    file = path / "manifest.json"
    if not file.is_file():
        raise VersionDamage("缺少 manifest.json", "manifest.json is missing")
    try:
        return Manifest.from_json(file.read_text(encoding="utf-8"))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
        raise VersionDamage("manifest.json 无法解析（内容不完整或格式错误）", f"manifest.json is malformed: {reason}") from None


def _read_chunks(db: Path) -> tuple[list[Chunk], list[list[str]], Lexicon]:
    try:
        connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            present = {info[1] for info in connection.execute("PRAGMA table_info(chunks)")}
            fields = [f for f in _CHUNK_FIELDS if f in present or f not in _OPTIONAL_FIELDS]
            rows = connection.execute(f"SELECT {', '.join(fields)}, tokens FROM chunks ORDER BY row").fetchall()
            lexicon = _read_lexicon(connection)
        finally:
            connection.close()
        chunks = [Chunk(**dict(zip(fields, row[:-1]))) for row in rows]
        tokens = [json.loads(row[-1]) for row in rows]
    except (sqlite3.Error, ValueError, TypeError, AttributeError) as exc:
        raise VersionDamage("chunks.sqlite 无法读取（不是完整的 SQLite 数据库）", f"chunks.sqlite cannot be read: {exc}") from None
    return chunks, tokens, lexicon


def _read_lexicon(connection: sqlite3.Connection) -> Lexicon:
    """The user dictionary stored with the chunks (none in a version written before there was one)."""
    if not connection.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'").fetchone():
        return EMPTY_LEXICON
    row = connection.execute("SELECT value FROM meta WHERE key = 'lexicon'").fetchone()
    return EMPTY_LEXICON if row is None else Lexicon.from_json(row[0])


def read_lexicon(db: Path) -> Lexicon:
    connection = sqlite3.connect(f"{db.resolve().as_uri()}?mode=ro", uri=True)
    try:
        return _read_lexicon(connection)
    finally:
        connection.close()


def write_version(
    folder: Path, manifest: Manifest, chunks: list[Chunk], tokens: list[list[str]], vectors: np.ndarray,
    spec: DenseIndexSpec | None = None,
) -> None:
    """Write the three files into an empty ``folder``; the manifest records the others' sha256."""
    table = ChunkTable(folder / "chunks.sqlite")
    table.append(chunks, tokens)
    table.close()
    spec = spec or DenseIndexSpec()
    finish_version(folder, manifest, build_index([vectors], len(vectors), manifest.dimension, spec), spec)


def finish_version(folder: Path, manifest: Manifest, faiss_index: Any, spec: DenseIndexSpec) -> None:
    """Write ``dense.faiss`` beside a complete ``chunks.sqlite``, then the manifest with both checksums."""
    import faiss

    faiss.write_index(faiss_index, str(folder / "dense.faiss"))
    checksums = {file: sha256_file(folder / file) for file in CHECKSUMMED_FILES}
    dense = spec.choose(faiss_index.ntotal)
    (folder / "manifest.json").write_text(
        dataclasses.replace(manifest, checksums=checksums, dense_index=dense).to_json(), encoding="utf-8"
    )


def encode_tokens(tokens: list[str]) -> str:
    """BM25 tokens as ``chunks.sqlite`` stores them (a JSON list)."""
    return json.dumps(tokens, ensure_ascii=False)


class ChunkTable:
    """A ``chunks.sqlite`` being written row by row (row i = FAISS id i), in bounded memory."""

    def __init__(self, db: Path):
        self.db = db
        self.rows = 0
        self._connection = sqlite3.connect(db)
        # Written once and synced whole by the store before it is published: no journal needed.
        self._connection.execute("PRAGMA journal_mode = OFF")
        self._connection.execute("PRAGMA synchronous = OFF")
        self._connection.execute(
            "CREATE TABLE chunks (row INTEGER PRIMARY KEY, chunk_id TEXT, file TEXT, article_index INTEGER, "
            "title TEXT, section TEXT, byline TEXT, source TEXT, text TEXT, start INTEGER, end INTEGER, "
            "date TEXT, display_text TEXT, tokens TEXT)"
        )
        # What each file's text says is a name (rag.ingest.names), kept so that an unchanged
        # file's findings are copied rather than read again; and the lexicon built from them.
        self._connection.execute("CREATE TABLE names (file TEXT, name TEXT, kind TEXT, full TEXT, count INTEGER)")
        self._connection.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT)")

    def append(self, chunks: list[Chunk], tokens: list[list[str]] | None = None) -> None:
        """Append chunks; without ``tokens`` they are cut later, by :meth:`fill_tokens`."""
        if tokens is not None and len(chunks) != len(tokens):
            raise ValueError("chunks and tokens must align")
        self._insert(
            (*(getattr(c, f) for f in _CHUNK_FIELDS), None if tokens is None else encode_tokens(tok))
            for c, tok in zip(chunks, tokens if tokens is not None else [None] * len(chunks))
        )

    def add_names(self, file: str, findings: Iterable[tuple[str, str, str, int]]) -> None:
        """(name, kind, full, count) findings of one file."""
        self._connection.executemany("INSERT INTO names VALUES (?,?,?,?,?)", ((file, *f) for f in findings))

    def names(self) -> Iterator[tuple[str, str, str, int]]:
        yield from self._connection.execute("SELECT name, kind, full, count FROM names ORDER BY file, rowid")

    def set_lexicon(self, lexicon: Lexicon) -> None:
        self._connection.execute("INSERT OR REPLACE INTO meta VALUES ('lexicon', ?)", (lexicon.to_json(),))

    def rows_to_cut(self, *, every_row: bool) -> list[int]:
        """The rows without BM25 tokens yet (``every_row``: all, after the lexicon changed)."""
        where = "" if every_row else "WHERE tokens IS NULL"
        return [row for (row,) in self._connection.execute(f"SELECT row FROM chunks {where} ORDER BY row")]

    def fill_tokens(
        self, rows: list[int], cut_blocks: Callable[[Iterable[list[str]]], Iterator[list[str]]], block: int = 2000,
    ) -> Iterator[int]:
        """Cut and store the BM25 tokens of ``rows``, a block at a time; yields each block's
        size. ``cut_blocks`` maps blocks of texts to their blocks of JSON-encoded tokens, in
        order (it may read a few blocks ahead)."""
        parts = [rows[start : start + block] for start in range(0, len(rows), block)]
        texts = ([c.indexed_text for c in self.read(part)] for part in parts)
        for part, encoded in zip(parts, cut_blocks(texts)):
            self._connection.executemany(
                "UPDATE chunks SET tokens = ? WHERE row = ?", zip(encoded, part, strict=True)
            )
            yield len(part)

    def copy_file(self, source_db: Path, file: str) -> int:
        """Append one file's rows of another version's ``chunks.sqlite`` as they are (tokens not
        decoded); returns how many. Columns that version lacks get the Chunk defaults."""
        source = sqlite3.connect(f"{source_db.resolve().as_uri()}?mode=ro", uri=True)
        try:
            present = {info[1] for info in source.execute("PRAGMA table_info(chunks)")}
            columns = [f if f in present else "''" for f in _CHUNK_FIELDS]
            before = self.rows
            self._insert(source.execute(
                f"SELECT {', '.join(columns)}, tokens FROM chunks WHERE file = ? ORDER BY row", (file,)
            ))
            if source.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'names'").fetchone():
                self.add_names(file, source.execute(
                    "SELECT name, kind, full, count FROM names WHERE file = ? ORDER BY rowid", (file,)
                ))
            return self.rows - before
        finally:
            source.close()

    def _insert(self, values: Iterable[tuple[Any, ...]]) -> None:
        rows = [(self.rows + i, *v) for i, v in enumerate(values)]
        self._connection.executemany("INSERT INTO chunks VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
        self.rows += len(rows)

    def commit(self) -> None:
        self._connection.commit()

    def read(self, rows: list[int]) -> list[Chunk]:
        """The chunks at ``rows`` (written by this table), in that order."""
        found: dict[int, Chunk] = {}
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            marks = ",".join("?" * len(part))
            for row, *values in self._connection.execute(
                f"SELECT row, {', '.join(_CHUNK_FIELDS)} FROM chunks WHERE row IN ({marks})", part
            ):
                found[row] = Chunk(**dict(zip(_CHUNK_FIELDS, values)))
        return [found[row] for row in rows]

    def chunk_ids_of(self, rows: list[int]) -> list[str]:
        """The chunk ids of ``rows``, in that order."""
        found: dict[int, str] = {}
        for start in range(0, len(rows), 500):
            part = rows[start : start + 500]
            marks = ",".join("?" * len(part))
            found.update(self._connection.execute(f"SELECT row, chunk_id FROM chunks WHERE row IN ({marks})", part))
        return [found[row] for row in rows]

    def chunk_ids(self, start: int, stop: int) -> list[str]:
        """The chunk ids of rows ``start`` .. ``stop - 1``."""
        return [cid for (cid,) in self._connection.execute(
            "SELECT chunk_id FROM chunks WHERE row >= ? AND row < ? ORDER BY row", (start, stop)
        )]

    def close(self) -> None:
        self._connection.execute("CREATE INDEX chunks_file ON chunks(file)")
        self._connection.commit()
        self._connection.close()

    def discard(self) -> None:
        self._connection.close()
