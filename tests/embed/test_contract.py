"""What every Embedder must do, checked on each implementation.

The hash embedder runs always; the real e5 model is marked slow. Add an
implementation to ``EMBEDDERS`` and it gets the whole suite.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from rag.config import Settings
from rag.embed.base import Embedder
from rag.embed.fake import HashEmbedder

FEE_QUERY = "黑石BXPE基金的管理费是多少"
FEE_PASSAGE = "黑石BXPE将收取1.25%的管理费，低于行业惯例的2%。"
CITY_PASSAGE = "青岛崂山区建设城市云脑平台，汇集了16亿条交通和环保数据。"
WEATHER_PASSAGE = "明天北方地区有大风降温天气，请注意添衣保暖。"


def _real(backend: str) -> Callable[[Settings], Embedder]:
    def build(settings: Settings) -> Embedder:
        from rag.embed.factory import embedder_from_settings

        configured = settings.model_copy(update={"embedding_backend": backend})
        if backend != "torch":  # the ONNX files come from `rag setup`; export them if missing
            from pathlib import Path

            from rag.models.export_onnx import export_onnx

            export_onnx(Path(configured.embedding_model_path))
        return embedder_from_settings(configured)

    return build


def _remote(settings: Settings) -> Embedder:
    """The remote embedder against a real `rag` server's /v1/embeddings (hash embedder behind it)."""
    from rag.embed.remote import RemoteEmbedder
    from tests.embed.remote_support import embeddings_url

    return RemoteEmbedder(embeddings_url(settings), model="rag-embedding")


EMBEDDERS: dict[str, Callable[[Settings], Embedder]] = {
    "hash-384": lambda settings: HashEmbedder(),
    "hash-64": lambda settings: HashEmbedder(dimension=64),
    "remote-hash": _remote,
    "e5": _real("torch"),
    "e5-onnx": _real("onnx"),
    "e5-onnx-int8": _real("onnx-int8"),
}


@pytest.fixture(
    scope="module",
    params=[pytest.param(name, marks=pytest.mark.slow) if name.startswith("e5") else name for name in EMBEDDERS],
)
def embedder(request, settings) -> Embedder:
    built = EMBEDDERS[request.param](settings)
    built.warm_up()
    return built


def test_is_an_embedder(embedder):
    assert isinstance(embedder, Embedder)
    assert isinstance(embedder.name, str) and embedder.name
    assert isinstance(embedder.dimension, int) and embedder.dimension > 0


def test_passages_shape_dtype_and_unit_norm(embedder):
    vectors = embedder.embed_passages([FEE_PASSAGE, CITY_PASSAGE, WEATHER_PASSAGE, ""])
    assert vectors.shape == (4, embedder.dimension)
    assert vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_query_shape_dtype_and_unit_norm(embedder):
    for text in (FEE_QUERY, "", "ＧＤＰ增长５％"):
        vector = embedder.embed_query(text)
        assert vector.shape == (embedder.dimension,)
        assert vector.dtype == np.float32
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)


def test_empty_list_gives_an_empty_matrix(embedder):
    vectors = embedder.embed_passages([])
    assert vectors.shape == (0, embedder.dimension) and vectors.dtype == np.float32


def test_deterministic_and_independent_of_the_batch(embedder):
    alone = embedder.embed_passages([CITY_PASSAGE])[0]
    in_batch = embedder.embed_passages([FEE_PASSAGE, CITY_PASSAGE, WEATHER_PASSAGE])[1]
    assert np.allclose(alone, in_batch, atol=1e-4)
    assert np.array_equal(embedder.embed_query(FEE_QUERY), embedder.embed_query(FEE_QUERY))


def test_query_and_passage_of_one_text_differ_but_stay_close(embedder):
    as_query = embedder.embed_query(FEE_PASSAGE)
    as_passage = embedder.embed_passages([FEE_PASSAGE])[0]
    assert not np.allclose(as_query, as_passage, atol=1e-4)  # the query/passage prefixes are applied
    others = embedder.embed_passages([CITY_PASSAGE, WEATHER_PASSAGE])
    assert float(as_query @ as_passage) > float(np.max(others @ as_query))


def test_a_question_is_closest_to_the_passage_that_answers_it(embedder):
    passages = embedder.embed_passages([CITY_PASSAGE, FEE_PASSAGE, WEATHER_PASSAGE])
    scores = passages @ embedder.embed_query(FEE_QUERY)
    assert int(np.argmax(scores)) == 1
    assert np.all(scores <= 1.0 + 1e-5) and np.all(scores >= -1.0 - 1e-5)
