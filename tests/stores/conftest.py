"""Both stores, built fresh per test in a temporary folder (Milvus Lite runs in-process)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rag.embed.fake import HashEmbedder
from rag.stores.base import RetrievalStore
from tests.stores.stores_support import STORE_KINDS, open_kind


@pytest.fixture(scope="session")
def embedder() -> HashEmbedder:
    return HashEmbedder(dimension=64)


@pytest.fixture
def open_store(tmp_path: Path) -> Iterator[Callable[[str], RetrievalStore]]:
    """Opens a store of a kind on this test's folder (again after a close: a restart); closes them after."""
    opened: list[RetrievalStore] = []

    def make(kind: str) -> RetrievalStore:
        store = open_kind(kind, tmp_path / kind)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()


@pytest.fixture(params=STORE_KINDS)
def kind(request) -> str:
    return request.param


@pytest.fixture
def store(open_store, kind) -> RetrievalStore:
    built = open_store(kind)
    built.warm_up()
    return built
