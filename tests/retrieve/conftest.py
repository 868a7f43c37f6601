"""Fixtures for retrieval tests: a small index with the hash embedder (no model), and the real index."""

from __future__ import annotations

import pytest

from rag.config import Settings
from rag.embed.fake import HashEmbedder
from rag.index.store import IndexData
from rag.retrieve.hybrid import HybridRetriever
from tests.retrieve.small_index import build_small_index, small_settings


@pytest.fixture(scope="session")
def hash_embedder() -> HashEmbedder:
    return HashEmbedder(dimension=256)


@pytest.fixture(scope="session")
def small_index(tmp_path_factory, hash_embedder) -> IndexData:
    return build_small_index(tmp_path_factory.mktemp("small-index"), hash_embedder)


@pytest.fixture(scope="session")
def small_config(settings: Settings) -> Settings:
    return small_settings(settings)


@pytest.fixture(scope="session")
def small_retriever(small_index, hash_embedder, small_config) -> HybridRetriever:
    return HybridRetriever(small_index, hash_embedder, small_config)


@pytest.fixture(scope="session")
def real_retriever(index_dir, settings: Settings) -> HybridRetriever:
    """The bundled corpus with the real e5 model."""
    from rag.embed.sentence_transformer import embedder_from_settings
    from rag.index.store import load_index

    retriever = HybridRetriever(load_index(index_dir), embedder_from_settings(settings), settings)
    retriever.warm_up()
    return retriever
