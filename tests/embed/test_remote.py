"""The remote embedder against `rag serve`'s own /v1/embeddings (a real server, hash embedder behind it)."""

from __future__ import annotations

import base64

import httpx
import numpy as np
import pytest

from rag.config import load_settings
from rag.embed.factory import embedder_from_settings, embedder_name
from rag.embed.remote import EmbeddingServiceError, RemoteEmbedder
from rag.errors import ConfigError
from tests.embed.remote_support import SERVED, embeddings_url

TEXTS = ["黑石BXPE将收取1.25%的管理费。", "青岛崂山区建设城市云脑平台。"]


@pytest.fixture(scope="module")
def url(settings) -> str:
    return embeddings_url(settings)


def test_remote_vectors_are_the_served_models(url):
    remote = RemoteEmbedder(url, model="anything")
    remote.warm_up()
    assert remote.dimension == SERVED.dimension
    assert np.allclose(remote.embed_passages(TEXTS), SERVED.embed_passages(TEXTS), atol=1e-6)
    assert np.allclose(remote.embed_query("管理费是多少"), SERVED.embed_query("管理费是多少"), atol=1e-6)


def test_batches_are_split_and_kept_in_order(url):
    remote = RemoteEmbedder(url, model="m", batch_size=1)
    texts = [f"第{i}段文字" for i in range(5)]
    assert np.allclose(remote.embed_passages(texts), SERVED.embed_passages(texts), atol=1e-6)


def test_without_a_model_name_it_takes_the_first_one_listed(url):
    remote = RemoteEmbedder(url)
    remote.warm_up()
    assert remote.model == "rag" and remote.name == url


@pytest.mark.parametrize("encoding", ["float", "base64"])
def test_the_endpoint_speaks_openais_shape(url, encoding):
    body = {"model": "x", "input": ["query: 管理费", "passage: 管理费", "管理费"], "encoding_format": encoding}
    reply = httpx.post(f"{url}/embeddings", json=body, timeout=30)
    assert reply.status_code == 200
    data = reply.json()
    assert data["object"] == "list" and data["model"] == SERVED.name and [d["index"] for d in data["data"]] == [0, 1, 2]
    raw = [d["embedding"] for d in data["data"]]
    vectors = (np.frombuffer(base64.b64decode(v), dtype="<f4") for v in raw) if encoding == "base64" else map(np.asarray, raw)
    query, passage, bare = list(vectors)
    assert np.allclose(query, SERVED.embed_query("管理费"), atol=1e-6)
    assert np.allclose(passage, SERVED.embed_passages(["管理费"])[0], atol=1e-6)
    assert np.allclose(bare, passage, atol=1e-6)  # no prefix: a passage, the prefix never doubled


def test_the_endpoint_refuses_an_empty_input(url):
    reply = httpx.post(f"{url}/embeddings", json={"model": "x", "input": []}, timeout=30)
    assert reply.status_code == 422 and "input" in reply.text


def test_an_unreachable_endpoint_is_one_clear_error():
    from rag.llm_runtime.net import free_port

    remote = RemoteEmbedder(f"http://127.0.0.1:{free_port()}/v1", model="m", timeout_s=2)
    with pytest.raises(EmbeddingServiceError, match="无法连接嵌入服务"):
        remote.embed_query("管理费")


def test_settings_pick_the_remote_embedder(settings):
    configured = settings.model_copy(update={"embedding_base_url": "http://127.0.0.1:9/v1", "embedding_model": "e5"})
    embedder = embedder_from_settings(configured)
    assert isinstance(embedder, RemoteEmbedder) and embedder.name == embedder_name(configured) == "e5"
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_BASE_URL"):
        load_settings(_env_file=None, embedding_base_url="127.0.0.1:8080")
