"""Reusing or starting the process-wide local LLM server."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.llm_runtime.net import free_port, probe
from rag.llm_runtime.registry import ensure_local_server, local_server_status, stop_managed
from rag.llm_runtime.server import LLMServerError, LocalLLMServer
from tests.llm_runtime.http_stub import reply, stub_server


def _settings(tmp_path: Path, port: int, model: Path, **kw: object) -> Settings:
    return Settings(_env_file=None, llm_host="127.0.0.1", llm_port=port, data_dir=tmp_path,
                    models_dir=model.parent, llm_model_file=model.name, **kw)  # type: ignore[arg-type]


def _llama_cpp_stub(h) -> None:
    if h.path == "/health":
        reply(h, 200, {"status": "ok"})
    else:
        reply(h, 200, {"object": "list", "data": [{"id": "qwen2.5-coder-0.5b-instruct-q4_k_m"}]})


def test_a_running_llama_cpp_server_is_reused(tmp_path: Path) -> None:
    with stub_server(_llama_cpp_stub) as root:
        port = int(root.rsplit(":", 1)[1])
        settings = _settings(tmp_path, port, tmp_path / "absent.gguf")  # not needed: nothing is started
        assert ensure_local_server(settings) == f"{root}/v1"
        status = local_server_status(settings)
        assert status is not None and status.state == "external" and status.pid is None
        assert stop_managed("127.0.0.1", port) == 0  # watched, but not ours to stop


def test_something_else_on_the_port_is_a_server_error(tmp_path: Path) -> None:
    with stub_server(lambda h: reply(h, 404, b"", "text/plain")) as root:
        settings = _settings(tmp_path, int(root.rsplit(":", 1)[1]), tmp_path / "absent.gguf")
        with pytest.raises(LLMServerError, match="不是 llama.cpp"):
            ensure_local_server(settings)


def test_an_unknown_missing_model_is_a_server_error(tmp_path: Path) -> None:
    settings = _settings(tmp_path, free_port(), tmp_path / "nobody-knows-this.gguf")
    with pytest.raises(LLMServerError, match="找不到本地大模型文件") as info:
        ensure_local_server(settings)
    assert info.value.reason == "FileNotFoundError"  # the fallback notice names what went wrong


def test_stopping_what_was_never_started_stops_nothing() -> None:
    assert stop_managed("127.0.0.1", free_port()) == 0


@pytest.mark.llm
def test_ensure_local_server_reuses_running(llm_server: LocalLLMServer, tmp_path: Path) -> None:
    settings = _settings(tmp_path, llm_server.port, llm_server.model_path)
    assert ensure_local_server(settings) == llm_server.base_url
    assert stop_managed("127.0.0.1", llm_server.port) == 0  # reused, not ours to stop
    assert probe(llm_server.root_url) == "ok"


@pytest.mark.llm
def test_ensure_local_server_starts_one(llm_server: LocalLLMServer, tmp_path: Path) -> None:
    port = free_port()
    settings = _settings(tmp_path, port, llm_server.model_path, llm_context=1024)
    try:
        url = ensure_local_server(settings)
        assert url == f"http://127.0.0.1:{port}/v1"
        assert probe(url.removesuffix("/v1")) == "ok"
        assert ensure_local_server(settings) == url  # second call: reuse
        assert (tmp_path / f"llm_server-{port}.log").exists()
    finally:
        assert stop_managed("127.0.0.1", port) == 1
    assert probe(f"http://127.0.0.1:{port}") == "down"
