"""File hashing and durable writes shared by the ingest pipeline, the index and model set-up.

One streaming sha256 (change detection, checks of downloaded and converted weights), so a
1 GB GGUF is never read into memory and every caller hashes the same way; and the fsyncs
that make a rename survive a power cut (the file's bytes, then the directory entry)."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from tqdm import tqdm

_BLOCK = 8 * 1024 * 1024


def sha256_file(path: Path, progress: bool | str = False) -> str:
    """Hex sha256 of the file at ``path``, read in 8 MB blocks.

    ``progress`` shows a byte progress bar (on a terminal only): ``True`` labels it
    "sha256 <name>", a string is the label itself.
    """
    path = Path(path)
    digest = hashlib.sha256()
    desc = progress if isinstance(progress, str) else f"sha256 {path.name}"
    with (
        open(path, "rb") as handle,
        tqdm(
            total=path.stat().st_size, unit="B", unit_scale=True, desc=desc, leave=False,
            disable=None if progress else True,
        ) as bar,
    ):
        while block := handle.read(_BLOCK):
            digest.update(block)
            bar.update(len(block))
    return digest.hexdigest()


def fsync_file(path: Path) -> None:
    """Flush a written file's bytes to disk."""
    with open(path, "rb") as handle:
        os.fsync(handle.fileno())


def fsync_dir(path: Path) -> None:
    """Flush a directory's entries (a rename or a new file in it) to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
