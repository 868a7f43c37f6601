"""The one file hash (streamed, identical to hashing the bytes at once) and the fsyncs."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from rag.fileutil import fsync_dir, fsync_file, sha256_file


def test_sha256_matches_hashlib_across_block_boundaries(tmp_path: Path):
    data = bytes(range(256)) * (40 * 1024 + 7)  # ~10 MB: more than one 8 MB block
    path = tmp_path / "blob.bin"
    path.write_bytes(data)
    assert sha256_file(path) == hashlib.sha256(data).hexdigest()
    assert sha256_file(path, progress="checking") == sha256_file(path, progress=True)


def test_sha256_of_empty_file(tmp_path: Path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    assert sha256_file(path) == hashlib.sha256(b"").hexdigest()


def test_fsync_of_a_file_and_its_folder_and_of_nothing(tmp_path: Path):
    written = tmp_path / "a.bin"
    written.write_bytes(b"x")
    fsync_file(written)
    fsync_dir(tmp_path)
    with pytest.raises(FileNotFoundError):
        fsync_dir(tmp_path / "missing")
