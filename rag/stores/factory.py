"""Which store ``RAG_STORE`` names, and what a service loads from it per version."""

from __future__ import annotations

import threading
from pathlib import Path

from rag.config import Settings
from rag.embed.base import Embedder
from rag.errors import IndexNotFoundError
from rag.index.store import current_version_dir
from rag.retrieve.base import Reranker
from rag.stores.base import RetrievalStore
from rag.stores.retriever import StoreRetriever, StoreView, idf_table

_shared: dict[tuple[str, str, str], RetrievalStore] = {}
_shared_lock = threading.Lock()


def open_store(settings: Settings, index_dir: Path | None = None) -> RetrievalStore:
    """The configured store (not connected yet). Milvus stores are shared per process and
    target: Milvus Lite allows one client per data folder, and a server connection is reused."""
    if settings.store == "milvus":
        from rag.stores.milvus import MilvusStore

        key = (settings.milvus_target, settings.milvus_collection, settings.milvus_token)
        with _shared_lock:
            if key not in _shared:
                _shared[key] = MilvusStore.from_settings(settings)
            return _shared[key]
    from rag.stores.embedded import EmbeddedStore

    return EmbeddedStore(Path(index_dir or settings.index_dir))


def release_stores() -> None:
    """Close every shared store (tests reopen a Milvus Lite folder after this, as after a restart)."""
    with _shared_lock:
        stores = list(_shared.values())
        _shared.clear()
    for store in stores:
        store.close()


def live_version(settings: Settings, index_dir: Path) -> str | None:
    """The name of the version a reader should be on (None: nothing built yet)."""
    if settings.store == "embedded":
        live = current_version_dir(index_dir)
        return None if live is None else live.name
    return open_store(settings, index_dir).version()


def load_store(
    settings: Settings, index_dir: Path, embedder: Embedder, reranker: Reranker | None = None
) -> tuple[StoreView, StoreRetriever]:
    """The live version of the configured store as a view (manifest, chunks, tokens) and a retriever over it."""
    store = open_store(settings, index_dir)
    store.warm_up()
    manifest, version = store.manifest(), store.version()
    if manifest is None or version is None:
        raise IndexNotFoundError(
            f"还没有建立索引，请先运行 `rag ingest` (the {store.kind} store is empty: run `rag ingest` first)"
        )
    reader = getattr(store, "chunks_and_tokens", None)
    chunks, tokens = reader() if reader is not None else (store.chunks(), store.token_lists())
    view = StoreView(manifest=manifest, version=version, chunks=chunks, tokens=tokens, path=Path(index_dir))
    return view, StoreRetriever(store, embedder, settings, reranker, idf=idf_table(tokens))
