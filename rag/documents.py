"""The files behind the knowledge base: the bundled corpus plus uploads, listed, added,
removed and re-ingested. What the admin tab (and later a document API) works on."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rag.config import Settings
from rag.errors import QuestionError
from rag.index.store import Manifest

_SAFE_NAME = re.compile(r"[^\w.\-\u4e00-\u9fff]")
MAX_NAME_CHARS = 120


@dataclass
class FileInfo:
    """One indexed file as the index manifest records it."""

    file: str
    articles: int
    chunks: int
    size: int


def sanitize_filename(filename: str) -> str:
    """A plain file name: no folders, no traversal, no hidden files, safe characters only."""
    name = Path(str(filename).replace("\\", "/")).name
    name = _SAFE_NAME.sub("_", name).lstrip(".")
    if not name or name in {"_", ".."}:
        raise QuestionError("无效的文件名 (invalid file name)")
    return name[:MAX_NAME_CHARS]


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

    def add_upload(self, filename: str, data: bytes) -> str:
        """Store an uploaded file (written whole, then renamed); returns its stored name."""
        name = sanitize_filename(filename)
        self.upload_dir.mkdir(parents=True, exist_ok=True)
        target = self.upload_dir / name
        tmp = target.with_name(f".{name}.part")
        tmp.write_bytes(data)
        tmp.replace(target)
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
