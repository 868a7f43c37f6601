"""The files behind the knowledge base: the bundled corpus plus uploads, listed, added,
removed and re-ingested. What the admin tab (and later a document API) works on."""

from __future__ import annotations

import hashlib
import os
import unicodedata
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import QuestionError
from rag.index.store import Manifest

MAX_NAME_CHARS = 120
# File systems allow 255 bytes per name (a CJK character is 3): keep a margin.
MAX_NAME_BYTES = 240
MAX_SUFFIX_CHARS = 10  # a longer "extension" is part of the name, not a file type
_KEPT_PUNCTUATION = frozenset("_.-")


@dataclass
class FileInfo:
    """One indexed file as the index manifest records it."""

    file: str
    articles: int
    chunks: int
    size: int


def sanitize_filename(filename: str) -> str:
    """A plain file name: no folders, no traversal, no hidden files, safe characters only.

    Letters, marks and digits of every script and symbols such as emoji are kept (so
    distinct names stay distinct); whitespace, control and formatting characters and
    punctuation become ``_``. A name too long for the file system (over MAX_NAME_CHARS
    characters or MAX_NAME_BYTES bytes of UTF-8) is shortened in its stem: the extension
    stays, so the file is still ingested, and 8 hex digits of its hash are added, so two
    long names sharing a prefix do not meet. Stored names come back unchanged.
    """
    name = unicodedata.normalize("NFC", Path(str(filename).replace("\\", "/")).name)
    name = "".join(_safe_char(ch) for ch in name).lstrip(".")
    if not name or name in {"_", ".."}:
        raise QuestionError("无效的文件名 (invalid file name)")
    return _shorten(name)


def _safe_char(ch: str) -> str:
    category = unicodedata.category(ch)
    return ch if ch in _KEPT_PUNCTUATION or category[0] in "LMN" or category == "So" else "_"


def _fits(name: str) -> bool:
    return len(name) <= MAX_NAME_CHARS and len(name.encode("utf-8")) <= MAX_NAME_BYTES


def _shorten(name: str) -> str:
    if _fits(name):
        return name
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem or len(suffix) > MAX_SUFFIX_CHARS:
        stem, suffix = name, ""
    else:
        suffix = "." + suffix
    stem = stem[:MAX_NAME_CHARS]
    tail = "-" + hashlib.sha256(name.encode("utf-8")).hexdigest()[:8] + suffix
    while stem and not _fits(stem + tail):
        stem = stem[:-1]
    return stem + tail


class DocumentLibrary:
    """The corpus folder and the uploads folder of one index.

    ``manifest`` gives the live index's manifest; ``on_change`` runs after an ingest so
    the service picks up the new index version at once.
    """

    def __init__(
        self,
        settings: Settings,
        index_dir: Path,
        manifest: Callable[[], Manifest],
        on_change: Callable[[], None] = lambda: None,
    ):
        self.settings = settings
        self.index_dir = index_dir
        self._manifest = manifest
        self._on_change = on_change

    @property
    def upload_dir(self) -> Path:
        return Path(self.settings.data_dir) / "uploads"

    def folders(self) -> list[Path]:
        """The folders an ingest reads: the corpus, then the uploads."""
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        return [Path(self.settings.corpus_dir), self.upload_dir]

    def list_files(self) -> list[FileInfo]:
        return [
            FileInfo(file=name, articles=rec.articles, chunks=rec.chunks, size=rec.size)
            for name, rec in sorted(self._manifest().files.items())
        ]

    def ingest(self, on_progress: Callable[[str, float], None] | None = None):
        """Bring the index in line with the folders (incremental); returns the IngestReport."""
        from rag.ingest.pipeline import ingest

        report = ingest(self.folders(), self.index_dir, settings=self.settings, progress=False, on_progress=on_progress)
        self._on_change()
        return report

    def add_upload(self, filename: str, data: bytes, replace: bool = False) -> str:
        """Store an uploaded file (written whole, then moved into place); returns its stored name.

        A file of the same stored name is never replaced silently: without ``replace`` the
        upload is refused with a QuestionError naming it (not numbered "报告 (2).txt": a
        document uploaded again would then be indexed twice). ``replace=True`` replaces an
        earlier upload. A name the bundled corpus already uses is always refused, since
        the two files would be one name in the index.
        """
        name = sanitize_filename(filename)
        given = "" if name == filename else f"（上传的 {filename!r} 存为此名）"
        if (Path(self.settings.corpus_dir) / name).exists():
            raise QuestionError(f"自带语料中已有同名文件：{name}{given}，请改名后再上传 (the corpus has a file named {name})")
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        target = self.upload_dir / name
        if target.exists() and not replace:
            raise _exists(name, given)
        tmp = self.upload_dir / f".upload-{uuid.uuid4().hex}.part"  # hidden: an ingest meanwhile skips it
        try:
            with open(tmp, "xb") as handle:
                handle.write(data)
            if replace:
                tmp.replace(target)
            else:
                try:
                    os.link(tmp, target)  # atomic and never replaces: a concurrent upload of the name loses
                except FileExistsError:
                    raise _exists(name, given) from None
        finally:
            tmp.unlink(missing_ok=True)
        return name

    def remove(self, name: str) -> None:
        """Remove an uploaded or bundled file from the knowledge base and re-index."""
        name = sanitize_filename(name)
        for folder in self.folders():
            path = folder / name
            if path.is_file():
                path.unlink()
                self.ingest()
                return
        raise QuestionError(f"没有这个文件：{name} (no such file)")


def _exists(name: str, given: str) -> QuestionError:
    return QuestionError(
        f"已有同名文件：{name}{given}。如要替换，请先删除它或选择替换 "
        f"(a file named {name} already exists: remove it first or upload with replace)"
    )
