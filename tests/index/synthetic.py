"""Small synthetic index versions written through rag.index.store (no model, no corpus),
and the ways the damage probe of issue 13 broke them on disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np

from rag.index.store import FileRecord, Manifest, write_index
from rag.types import Chunk

DIM = 8


def chunks(n: int, file: str = "a.txt") -> list[Chunk]:
    return [
        Chunk(chunk_id=f"{file}-{i:04d}", file=file, article_index=i // 2, title=f"标题{i}", section="节",
              byline="记者", source="报", text=f"第{i}段正文。", start=10 * i, end=10 * i + 6, date="2024-01-0{i % 9 + 1}")
        for i in range(n)
    ]


def vectors(n: int, seed: int = 0) -> np.ndarray:
    rows = np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def manifest(rows: list[Chunk], dimension: int = DIM) -> Manifest:
    result = Manifest(embedder="fake", dimension=dimension, chunking={"size": 400, "overlap": 80, "max_size": 600},
                      pipeline="abc")
    for file in sorted({c.file for c in rows}):
        mine = [c for c in rows if c.file == file]
        result.files[file] = FileRecord(sha256="0" * 64, articles=len({c.article_index for c in mine}),
                                        chunks=len(mine), size=123)
    return result


def write(index_dir: Path, n: int = 5, seed: int = 0, file: str = "a.txt"):
    """One new version of ``n`` chunks; returns (version path, chunks, tokens, vectors)."""
    rows = chunks(n, file)
    tokens = [["第", str(i), "段"] for i in range(n)]
    vecs = vectors(n, seed)
    path = write_index(index_dir, manifest(rows), rows, tokens, vecs)
    return path, rows, tokens, vecs


# ------------------------------------------------------------------ damage
def random_bytes(path: Path, size: int = 400_000) -> None:
    path.write_bytes(os.urandom(size))


def truncate(path: Path) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def scribble(path: Path) -> None:
    """Overwrite bytes in the middle of the file, as a bad disk or a stray write would."""
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle: middle + 64] = os.urandom(64)
    path.write_bytes(bytes(data))


def drop_checksums(version: Path) -> None:
    """Make the manifest look like one written before checksums were recorded."""
    data = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
    del data["checksums"]
    (version / "manifest.json").write_text(json.dumps(data), encoding="utf-8")


# ------------------------------------------------------------------ a searchable version
NEWS = {
    "fund.txt": ("黑石BXPE基金", "黑石BXPE基金的管理费率为1.25%，业绩报酬为12.5%。该基金面向富裕个人投资者。"),
    "cars.txt": ("汽车出口创新高", "2023年中国汽车出口491万辆，同比增长57.9%，出口量跃居全球第一。"),
}


def news_version(index_dir: Path, embedder, files: list[str]) -> Path:
    """A version holding the named NEWS articles, embedded with ``embedder`` (the hash one)."""
    from rag.index.tokenize import tokenize
    from rag.ingest.chunk import chunk_article
    from rag.types import Article

    rows = [c for name in files for c in chunk_article(Article(file=name, index=0, title=NEWS[name][0], text=NEWS[name][1]))]
    result = Manifest(embedder=embedder.name, dimension=embedder.dimension, chunking={"size": 400, "overlap": 80, "max_size": 600})
    for name in files:
        result.files[name] = FileRecord(sha256="0" * 64, articles=1, chunks=sum(c.file == name for c in rows))
    vecs = embedder.embed_passages([c.indexed_text for c in rows])
    return write_index(index_dir, result, rows, [tokenize(c.indexed_text) for c in rows], vecs)
