"""The small news set of tests/retrieve/small_index.py, written file by file into any store."""

from __future__ import annotations

import hashlib
from pathlib import Path

from rag.embed.base import Embedder
from rag.index.manifest import FileRecord, Manifest
from rag.index.tokenize import tokenize
from rag.ingest.chunk import chunk_article
from rag.stores.base import RetrievalStore
from rag.types import Article, Chunk
from tests.retrieve.small_index import ARTICLES, CHUNKING

STORE_KINDS = ["embedded", "milvus"]
FEE = "黑石BXPE基金的管理费是多少"
FEE_TITLE = "美国大型PE调降管理费破解募资难困局"


def open_kind(kind: str, folder: Path) -> RetrievalStore:
    if kind == "milvus":
        from rag.stores.milvus import MilvusStore

        folder.mkdir(parents=True, exist_ok=True)
        return MilvusStore(str(folder / "milvus.db"), collection="test_chunks")
    from rag.stores.embedded import EmbeddedStore

    return EmbeddedStore(folder)


def articles_by_file(articles=ARTICLES) -> dict[str, list[Chunk]]:
    files: dict[str, list[Chunk]] = {}
    for position, (file, section, title, text) in enumerate(articles):
        index = sum(1 for other in articles[:position] if other[0] == file)
        article = Article(file=file, index=index, title=title, text=text, section=section)
        files.setdefault(file, []).extend(
            chunk_article(article, CHUNKING["size"], CHUNKING["overlap"], CHUNKING["max_size"])
        )
    return files


def record_of(chunks: list[Chunk]) -> FileRecord:
    digest = hashlib.sha256("".join(c.text for c in chunks).encode()).hexdigest()
    return FileRecord(sha256=digest, articles=len({c.article_index for c in chunks}), chunks=len(chunks))


def put_file(store: RetrievalStore, embedder: Embedder, name: str, chunks: list[Chunk]) -> None:
    store.replace_file(
        name, record_of(chunks), chunks, [tokenize(c.indexed_text) for c in chunks],
        embedder.embed_passages([c.indexed_text for c in chunks]),
    )


def manifest_for(embedder: Embedder) -> Manifest:
    return Manifest(embedder=embedder.name, dimension=embedder.dimension, chunking=dict(CHUNKING))


def fill(store: RetrievalStore, embedder: Embedder) -> str:
    """Every small-set file written and committed; returns the version."""
    store.reset(embedder.dimension)
    for name, chunks in articles_by_file().items():
        put_file(store, embedder, name, chunks)
    return store.commit(manifest_for(embedder))


_from_index: dict[tuple[str, str], RetrievalStore] = {}


def store_from_index(kind: str, index) -> RetrievalStore:
    """A store of ``kind`` holding a loaded index version's chunks, tokens and vectors (built once per
    version folder and kind; Milvus Lite files go to a temporary folder removed at exit)."""
    import atexit
    import shutil
    import tempfile

    key = (kind, str(index.path))
    if key not in _from_index:
        folder = Path(tempfile.mkdtemp(prefix=f"rag-store-{kind}-"))
        atexit.register(shutil.rmtree, folder, True)
        store = open_kind(kind, folder)
        store.warm_up()
        store.reset(index.manifest.dimension)
        vectors = index.vectors()
        for name in sorted({c.file for c in index.chunks}):
            rows = index.rows_for_file(name)
            chunks = [index.chunks[i] for i in rows]
            store.replace_file(name, record_of(chunks), chunks, [index.tokens[i] for i in rows], vectors[rows])
        store.commit(Manifest(embedder=index.manifest.embedder, dimension=index.manifest.dimension,
                              chunking=dict(index.manifest.chunking)))
        _from_index[key] = store
    return _from_index[key]
