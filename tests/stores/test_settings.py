"""RAG_STORE and the Milvus settings: accepted forms, and one clear line for a bad value."""

from __future__ import annotations

import pytest

from rag.config import load_settings
from rag.errors import ConfigError


@pytest.mark.parametrize("uri", ["", "./index/milvus.db", "/srv/rag/milvus.db", "http://milvus:19530",
                                 "https://in03-x.cloud.example:443", "tcp://10.0.0.5:19530"])
def test_milvus_uris_accepted(uri):
    assert load_settings(_env_file=None, store="milvus", milvus_uri=uri).milvus_uri == uri


@pytest.mark.parametrize(("key", "value", "says"), [
    ("store", "faiss", "需要 'embedded' or 'milvus' 之一"),
    ("milvus_uri", "milvus:19530", "需要以 .db 结尾的本地文件路径"),
    ("milvus_uri", "./index/milvus", "需要以 .db 结尾的本地文件路径"),
    ("milvus_collection", "rag-chunks", "只含字母数字和下划线"),
    ("embedding_base_url", "localhost:8080/v1", "需要 http(s):// 开头的地址"),
])
def test_a_bad_value_is_one_line_naming_the_variable(key, value, says):
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None, **{key: value})
    message = str(caught.value)
    assert "\n" not in message and f"RAG_{key.upper()}" in message and says in message


def test_environment_variables_are_read(monkeypatch):
    monkeypatch.setenv("RAG_STORE", "milvus")
    monkeypatch.setenv("RAG_MILVUS_URI", "http://milvus:19530")
    monkeypatch.setenv("RAG_MILVUS_TOKEN", "root:Milvus")
    monkeypatch.setenv("RAG_MILVUS_COLLECTION", "news")
    settings = load_settings(_env_file=None)
    assert (settings.store, settings.milvus_target, settings.milvus_token, settings.milvus_collection) == (
        "milvus", "http://milvus:19530", "root:Milvus", "news")
