"""File hashing shared by the ingest pipeline (change detection) and model set-up (checks of
downloaded and converted weights): one streaming sha256, so a 1 GB GGUF is never read into
memory and every caller hashes the same way."""

from __future__ import annotations

import hashlib
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
