"""The document library: safe upload names, listing from the manifest, removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents import DocumentLibrary, FileInfo, sanitize_filename
from rag.errors import QuestionError
from rag.index.store import FileRecord, Manifest


@pytest.mark.parametrize(
    ("given", "stored"),
    [("../../etc/passwd", "passwd"), ("C:\\Users\\a\\报告.txt", "报告.txt"), (".hidden.md", "hidden.md"), ("a b.txt", "a_b.txt")],
)
def test_upload_names_are_plain_and_safe(given: str, stored: str) -> None:
    assert sanitize_filename(given) == stored


@pytest.mark.parametrize("given", ["", "..", "/", "."])
def test_names_with_nothing_left_are_refused(given: str) -> None:
    with pytest.raises(QuestionError):
        sanitize_filename(given)


def library(tmp_path: Path, manifest: Manifest | None = None) -> DocumentLibrary:
    settings = Settings(_env_file=None, data_dir=tmp_path / "runtime", corpus_dir=tmp_path / "corpus")
    (tmp_path / "corpus").mkdir()
    return DocumentLibrary(settings, tmp_path / "index", lambda: manifest)


def test_upload_is_stored_whole_under_its_safe_name(tmp_path: Path) -> None:
    lib = library(tmp_path)
    name = lib.add_upload("../新闻.txt", "内容。".encode())
    assert name == "新闻.txt"
    assert (lib.upload_dir / name).read_text(encoding="utf-8") == "内容。"
    assert not list(lib.upload_dir.glob(".*.part"))


def test_list_files_reads_the_manifest(tmp_path: Path) -> None:
    manifest = Manifest(embedder="fake", dimension=8, chunking={}, pipeline="p")
    manifest.files["b.txt"] = FileRecord(sha256="x", articles=2, chunks=5, size=10)
    manifest.files["a.txt"] = FileRecord(sha256="y", articles=1, chunks=1, size=3)
    assert library(tmp_path, manifest).list_files() == [FileInfo("a.txt", 1, 1, 3), FileInfo("b.txt", 2, 5, 10)]


def test_removing_an_unknown_file_says_so(tmp_path: Path) -> None:
    with pytest.raises(QuestionError, match="没有这个文件"):
        library(tmp_path).remove("nothing.txt")
