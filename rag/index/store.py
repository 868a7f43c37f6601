"""The on-disk index folder: versions of FAISS vectors, BM25 tokens, chunk metadata and a
manifest (one version's files: rag.index.version; the manifest format: rag.index.manifest).

Layout under the index directory:

    CURRENT                 name of the live version (replaced atomically)
    versions/<name>/
        manifest.json       embedder, dimension, chunking parameters, per-file hashes,
                            sha256 of chunks.sqlite and dense.faiss
        chunks.sqlite       chunk texts, metadata and BM25 tokens; row i = FAISS id i
        dense.faiss         IndexFlatIP over normalised vectors (an approximate index,
                            HNSW by default, from RAG_FAISS_EXACT_MAX vectors on: rag.index.dense_index)

A new version is written completely before CURRENT points to it, so a process
killed mid-ingest leaves the previous version live. Nothing is ever unpickled:
FAISS has its own binary format, the rest is SQLite and JSON; BM25 statistics are
rebuilt from the stored tokens at load time (milliseconds for this corpus size).

Damage: every load checks the recorded checksums and reads every file whole, so a
damaged version raises IndexCorruptError with one line naming the file and the fault,
never a traceback from FAISS or SQLite and never wrong answers. Load does not fall
back on its own: an older version would answer from a stale knowledge base without
anyone noticing, and server processes sharing the folder could disagree about which
version is live. The error names the newest older version that verifies instead, and
``rollback`` (``rag index rollback``) switches CURRENT to it, for every reader at once.
So that there is one to offer, ``write_index`` keeps the version it replaces.
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
from filelock import FileLock, Timeout

from rag.errors import IndexBusyError, IndexCorruptError, IndexNotFoundError
from rag.fileutil import fsync_dir, fsync_file
from rag.index.dense_index import DenseIndexSpec
from rag.index.manifest import MANIFEST_VERSION, FileRecord, Manifest
from rag.index.version import (
    VERSION_FILES, IndexData, VersionDamage, check_version_files, read_version, write_version,
)
from rag.types import Chunk

__all__ = [
    "MANIFEST_VERSION", "VERSION_FILES", "FileRecord", "Manifest", "IndexData", "VersionStatus", "IndexNotFoundError",
    "current_version_dir", "list_versions", "load_index", "check_live", "write_index", "publish_version", "verify_index", "rollback", "writer_lock",
]

log = logging.getLogger(__name__)
_T = TypeVar("_T")


@dataclass(frozen=True)
class VersionStatus:
    """One version folder as ``rag index verify`` reports it."""

    name: str
    live: bool
    chunks: int | None  # None when it does not load
    problem: str | None  # None when it verifies; else one line, Chinese first

    @property
    def ok(self) -> bool:
        return self.problem is None


# ------------------------------------------------------------------ the folder
def _pointer(index_dir: Path) -> str | None:
    """The version name CURRENT holds (None without CURRENT)."""
    pointer = Path(index_dir) / "CURRENT"
    if not pointer.exists():
        return None
    return pointer.read_text(encoding="utf-8", errors="replace").strip()


def _version_path(index_dir: Path, name: str) -> Path | None:
    if not name or name != Path(name).name or name.startswith("."):
        return None  # empty or garbage in CURRENT must not resolve to versions/ itself
    path = Path(index_dir) / "versions" / name
    return path if path.is_dir() else None


def current_version_dir(index_dir: Path) -> Path | None:
    name = _pointer(index_dir)
    return None if name is None else _version_path(index_dir, name)


def list_versions(index_dir: Path) -> list[Path]:
    """The complete version folders, oldest first (leftovers of killed ingests are dot-named)."""
    versions = Path(index_dir) / "versions"
    if not versions.is_dir():
        return []
    keyed = []
    for entry in versions.iterdir():
        if entry.name.startswith("."):
            continue
        try:  # another process may be pruning it right now
            if entry.is_dir():
                # Names start with the write time to the second; the mtime orders one second's versions.
                keyed.append(((entry.name[:15], entry.stat().st_mtime_ns, entry.name), entry))
        except FileNotFoundError:
            continue
    return [entry for _, entry in sorted(keyed)]


@contextmanager
def writer_lock(index_dir: Path) -> Iterator[None]:
    """The folder's writer lock: one ingest or rollback at a time; readers need no lock
    (versions are immutable).

    A second writer fails at once instead of queueing: the admin page and the CLI tell
    the user to wait rather than hang.
    """
    index_dir = Path(index_dir)
    index_dir.mkdir(parents=True, exist_ok=True)
    lock = FileLock(index_dir / ".ingest.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout as exc:
        raise IndexBusyError(f"另一个导入正在进行，请稍后再试 (another ingest is running on {index_dir})") from exc
    try:
        yield
    finally:
        lock.release()


# ------------------------------------------------------------------ reading
def load_index(index_dir: Path) -> IndexData:
    """The live version, verified; IndexNotFoundError or a one-line IndexCorruptError otherwise."""
    return _open_live(index_dir, read_version)


def check_live(index_dir: Path) -> tuple[Path, Manifest]:
    """The live version's folder and manifest once its files match their checksums, without
    reading them into memory (an ingest then reads what it reuses, file by file); the same
    errors as :func:`load_index`."""
    return _open_live(index_dir, lambda folder: (folder, check_version_files(folder)))


def _open_live(index_dir: Path, read: Callable[[Path], _T]) -> _T:
    index_dir = Path(index_dir)
    name = _pointer(index_dir)
    path = None if name is None else _version_path(index_dir, name)
    if path is None:
        if name is None or not list_versions(index_dir):
            raise IndexNotFoundError(
                f"还没有建立索引，请先运行 `rag ingest` (no index in {index_dir}: run `rag ingest` first)"
            )
        damage = VersionDamage(f"CURRENT 指向的版本 {name!r} 不存在", f"CURRENT names version {name!r}, which does not exist")
        raise _corrupt(index_dir, index_dir, damage, live=name)
    try:
        result = read(path)
    except VersionDamage as damage:
        raise _corrupt(index_dir, path, damage, live=path.name) from None
    if isinstance(result, IndexData):
        log.info("loaded index %s: %d chunks", path.name, len(result.chunks))
    return result


def _corrupt(index_dir: Path, where: Path, damage: VersionDamage, live: str | None) -> IndexCorruptError:
    previous = _newest_sound_version(index_dir, older_than=live)
    if previous is not None:
        command = f"rag index rollback --index {index_dir}"
        offer_zh = f"上一个完整版本 {previous.name} 可用：运行 `{command}` 切换到它"
        offer_en = f"`rag index rollback` restores the previous complete version {previous.name}"
    else:
        offer_zh = f"没有可用的旧版本：请删除 {index_dir} 后重新运行 `rag ingest`"
        offer_en = f"no older complete version: delete {index_dir} and run `rag ingest` again"
    return IndexCorruptError(f"索引已损坏：{damage.zh}。{offer_zh} (index {where} is damaged: {damage.en}; {offer_en})")


def _problem(path: Path) -> tuple[VersionDamage | None, int | None]:
    try:
        return None, len(read_version(path).chunks)
    except VersionDamage as damage:
        return damage, None


def _newest_sound_version(index_dir: Path, older_than: str | None) -> Path | None:
    """The newest version older than ``older_than`` (all of them when that is not one) that verifies."""
    versions = list_versions(index_dir)
    names = [p.name for p in versions]
    if older_than in names:
        versions = versions[: names.index(older_than)]
    return next((p for p in reversed(versions) if _problem(p)[0] is None), None)


def verify_index(index_dir: Path) -> list[VersionStatus]:
    """Every version folder checked whole, newest first."""
    live = _pointer(index_dir)
    statuses = []
    for path in reversed(list_versions(index_dir)):
        damage, chunks = _problem(path)
        statuses.append(VersionStatus(path.name, path.name == live, chunks, None if damage is None else damage.line()))
    return statuses


def rollback(index_dir: Path) -> str:
    """Switch CURRENT to the newest version older than the live one that verifies; returns its name."""
    index_dir = Path(index_dir)
    with writer_lock(index_dir):
        if not list_versions(index_dir):
            raise IndexNotFoundError(f"还没有建立索引，无法回退 (no index in {index_dir} to roll back)")
        live = _pointer(index_dir)
        target = _newest_sound_version(index_dir, older_than=live)
        if target is None:
            raise IndexCorruptError(
                f"没有可以回退的完整旧版本：请删除 {index_dir} 后重新运行 `rag ingest` "
                f"(no older complete version in {index_dir}: delete it and run `rag ingest` again)"
            )
        _switch_current(index_dir, target.name)
    log.info("index rolled back: %s -> %s", live, target.name)
    return target.name


# ------------------------------------------------------------------ writing
def write_index(
    index_dir: Path, manifest: Manifest, chunks: list[Chunk], tokens: list[list[str]], vectors: np.ndarray,
    spec: DenseIndexSpec | None = None,
) -> Path:
    """Write a complete new version, then switch CURRENT to it atomically; prune old versions
    (the one it replaces is kept for rollback)."""
    if len(chunks) != len(tokens) or len(chunks) != len(vectors):
        raise ValueError("chunks, tokens and vectors must align")
    return publish_version(index_dir, lambda folder: write_version(folder, manifest, chunks, tokens, vectors, spec))


def publish_version(index_dir: Path, fill: Callable[[Path], None]) -> Path:
    """``fill(folder)`` writes a complete version into an empty hidden folder; it is then
    synced, renamed into place and made live (CURRENT switched atomically), and older
    versions are pruned (the one it replaces is kept for rollback). A failure or a kill
    before the switch leaves the previous version live."""
    index_dir = Path(index_dir)
    versions = index_dir / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    name = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
    tmp = versions / f".tmp-{name}"
    tmp.mkdir()
    try:
        fill(tmp)
        _fsync_tree(tmp)
        final = versions / name
        tmp.rename(final)
        previous = current_version_dir(index_dir)
        _switch_current(index_dir, name)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(versions, keep={final.name} | ({previous.name} if previous else set()))
    return final


def _switch_current(index_dir: Path, name: str) -> None:
    pointer_tmp = index_dir / f".CURRENT-{name}"
    pointer_tmp.write_text(name, encoding="utf-8")
    fsync_file(pointer_tmp)
    os.replace(pointer_tmp, index_dir / "CURRENT")
    fsync_dir(index_dir)


def _prune(versions: Path, keep: set[str]) -> None:
    """Remove other versions and leftovers of killed ingests (readers have the live one open)."""
    for entry in versions.iterdir():
        if entry.name not in keep:
            shutil.rmtree(entry, ignore_errors=True)


def _fsync_tree(path: Path) -> None:
    for entry in path.iterdir():
        if entry.is_file():
            fsync_file(entry)
    fsync_dir(path)
