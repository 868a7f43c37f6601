"""The sentence-transformers embedder: a cheap constructor, an explicit warm-up, lazy otherwise."""

from __future__ import annotations

import numpy as np
import pytest

from rag.embed.sentence_transformer import SentenceTransformerEmbedder, embedder_from_settings


def test_construction_loads_nothing(settings):
    embedder = SentenceTransformerEmbedder(settings.embedding_model_path)
    assert embedder.is_loaded is False
    assert embedder.name == settings.embedding_model_path


def test_missing_model_folder_fails_at_construction(tmp_path):
    with pytest.raises(FileNotFoundError, match="rag setup"):
        SentenceTransformerEmbedder(str(tmp_path / "no-such-model"))


def test_embedder_from_settings_is_shared_per_settings(settings):
    settings = settings.model_copy(update={"embedding_backend": "torch"})
    first = embedder_from_settings(settings)
    assert isinstance(first, SentenceTransformerEmbedder)
    assert embedder_from_settings(settings) is first
    other = embedder_from_settings(settings.model_copy(update={"embedding_batch_size": 7}))
    assert isinstance(other, SentenceTransformerEmbedder)
    assert other is not first and other.batch_size == 7


@pytest.mark.slow
def test_warm_up_loads_once_and_embedding_before_it_warms_up_lazily(settings):
    explicit = SentenceTransformerEmbedder(settings.embedding_model_path)
    explicit.warm_up()
    assert explicit.is_loaded
    model = explicit.model
    explicit.warm_up()  # idempotent: the same model, not a second load
    assert explicit.model is model

    lazy = SentenceTransformerEmbedder(settings.embedding_model_path)
    vector = lazy.embed_query("管理费")  # no warm_up(): loads on first use
    assert lazy.is_loaded and vector.shape == (lazy.dimension,)
    assert np.allclose(vector, explicit.embed_query("管理费"), atol=1e-6)
