"""The document library: safe upload names, listing from the manifest, removal."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.documents import MAX_NAME_BYTES, MAX_NAME_CHARS, DocumentLibrary, FileInfo, sanitize_filename
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


# ------------------------------------------------------------------ issue 13, defect 5: upload names
def test_a_long_name_keeps_its_extension_and_is_ingested(tmp_path: Path) -> None:
    from rag.ingest.pipeline import discover

    long_name = "新闻" * 100 + ".txt"  # 200 characters, 600 bytes: over what a file system takes
    stored = sanitize_filename(long_name)
    assert stored.endswith(".txt") and stored.startswith("新闻新闻")
    assert len(stored) <= MAX_NAME_CHARS and len(stored.encode("utf-8")) <= MAX_NAME_BYTES
    lib = library(tmp_path)
    assert lib.add_upload(long_name, "内容。".encode()) == stored
    assert list(discover([lib.upload_dir])) == [stored]  # found by ingest, not stranded


def test_long_names_sharing_a_prefix_stay_apart() -> None:
    first, second = sanitize_filename("a" * 150 + "1.md"), sanitize_filename("a" * 150 + "2.md")
    assert first != second and first.endswith(".md") and second.endswith(".md")
    assert sanitize_filename("x" * 300) != sanitize_filename("x" * 301)  # no extension: shortened all the same


@pytest.mark.parametrize(
    "name", ["😀.txt", "हिन्दी.txt", "Ελληνικά.md", "報告 2024.txt", "新闻" * 100 + ".txt", "x" * 500]
)
def test_sanitising_a_stored_name_changes_nothing(name: str) -> None:
    stored = sanitize_filename(name)
    assert sanitize_filename(stored) == stored  # remove(name) finds what add_upload stored


def test_letters_of_every_script_and_emoji_are_kept() -> None:
    assert sanitize_filename("😀.txt") == "😀.txt"
    assert sanitize_filename("😀.txt") != sanitize_filename("😁.txt")
    assert sanitize_filename("हिन्दी.txt") == "हिन्दी.txt"  # vowel signs are marks, not punctuation
    assert sanitize_filename("e\u0301.txt") == "\u00e9.txt"  # one spelling of é (macOS sends the other)
    assert sanitize_filename("a\u202egpj.exe") == "a_gpj.exe"  # a right-to-left override is no letter
    assert sanitize_filename("a\x00b;rm -rf.txt") == "a_b_rm_-rf.txt"


def test_an_existing_upload_is_never_replaced_silently(tmp_path: Path) -> None:
    lib = library(tmp_path)
    assert lib.add_upload("passwd", b"first") == "passwd"
    with pytest.raises(QuestionError, match="已有同名文件：passwd") as excinfo:
        lib.add_upload("../../etc/passwd", b"second")
    assert "../../etc/passwd" in str(excinfo.value)  # says which upload took the name
    assert (lib.upload_dir / "passwd").read_bytes() == b"first"
    assert lib.add_upload("../../etc/passwd", b"second", replace=True) == "passwd"  # asked for
    assert (lib.upload_dir / "passwd").read_bytes() == b"second"
    assert sorted(p.name for p in lib.upload_dir.iterdir()) == ["passwd"]  # no spool files left


def test_a_name_the_corpus_uses_is_refused_even_with_replace(tmp_path: Path) -> None:
    lib = library(tmp_path)
    (tmp_path / "corpus" / "报告.txt").write_text("自带。", encoding="utf-8")
    for replace in (False, True):
        with pytest.raises(QuestionError, match="自带语料中已有同名文件"):
            lib.add_upload("报告.txt", b"x", replace=replace)
    assert not (lib.upload_dir / "报告.txt").exists()


def test_concurrent_uploads_of_one_name_keep_the_first(tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    lib = library(tmp_path)

    def upload(i: int) -> str:
        try:
            return lib.add_upload("同名.txt", f"{i}".encode())
        except QuestionError:
            return "refused"

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(upload, range(16)))
    assert results.count("同名.txt") == 1 and results.count("refused") == 15
    assert sorted(p.name for p in lib.upload_dir.iterdir()) == ["同名.txt"]
