"""The manifest of one index version: what built it, what it holds, and checksums of its files.

Kept apart from the store so the format can be read (and its damage described) without
FAISS or SQLite. ``checksums`` is empty for versions written before checksums were
recorded; those still load (the store logs a warning instead of verifying them).
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

MANIFEST_VERSION = 1


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
    checksums: dict[str, str] = field(default_factory=dict)  # version file name -> sha256, set by write_index
    dense_index: str = "Flat"  # the FAISS factory string of dense.faiss (rag.index.dense_index)

    def to_json(self) -> str:
        data = {
            "version": self.version,
            "embedder": self.embedder,
            "dimension": self.dimension,
            "chunking": self.chunking,
            "pipeline": self.pipeline,
            "created": self.created,
            "checksums": dict(sorted(self.checksums.items())),
            "dense_index": self.dense_index,
            "files": {name: vars(rec) for name, rec in sorted(self.files.items())},
        }
        return json.dumps(data, ensure_ascii=False, indent=2)

    @classmethod
    def from_json(cls, text: str) -> Manifest:
        """Raises ValueError, KeyError, TypeError or AttributeError on a malformed manifest."""
        data = json.loads(text)
        return cls(
            embedder=data["embedder"],
            dimension=int(data["dimension"]),
            chunking={k: int(v) for k, v in data["chunking"].items()},
            files={name: FileRecord(**rec) for name, rec in data["files"].items()},
            pipeline=str(data.get("pipeline", "")),
            created=float(data.get("created", 0)),
            version=int(data.get("version", MANIFEST_VERSION)),
            checksums={str(k): str(v) for k, v in data.get("checksums", {}).items()},
            dense_index=str(data.get("dense_index", "Flat")),
        )
