"""The engine's errors become the one error shape, with one status per kind (no model needed)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.api.errors import in_band_error, rag_status
from rag.config import Settings
from rag import errors
from rag.types import StreamEvent
from tests.api.api_support import assert_error


class FailingService:
    """Stands in for RagService: every call raises ``error``."""

    def __init__(self, settings: Settings, error: Exception):
        self.settings = settings
        self.error = error

    def ask(self, *args: object, **kwargs: object) -> None:
        raise self.error

    def ask_stream(self, *args: object, **kwargs: object) -> Iterator[StreamEvent]:
        raise self.error
        yield  # pragma: no cover - makes this a generator, like the service's

    def search(self, *args: object, **kwargs: object) -> None:
        raise self.error


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (errors.QuestionError("问题为空"), 422),
        (errors.IndexNotFoundError("请先运行 rag ingest"), 503),
        (errors.IndexCorruptError("索引已损坏"), 503),
        (errors.IndexBusyError("另一个导入正在进行"), 503),
        (errors.LLMUnavailableError("连接失败", "ConnectError"), 503),
        (errors.ConfigError("配置错误"), 500),
        (errors.RagError("其他"), 500),
    ],
)
def test_each_engine_error_has_its_status(error: errors.RagError, status: int) -> None:
    assert rag_status(error) == status
    settings = Settings(_env_file=None)
    with TestClient(create_app(settings, service=FailingService(settings, error))) as client:
        for path, body in [
            ("/api/ask", {"question": "x"}),
            ("/api/ask/stream", {"question": "x"}),  # raised before the first event: a real status
            ("/api/search", {"query": "x"}),
            ("/v1/chat/completions", {"messages": [{"role": "user", "content": "x"}]}),
            ("/v1/chat/completions", {"stream": True, "messages": [{"role": "user", "content": "x"}]}),
        ]:
            # The engine's message is meant for the user: it reaches the client unchanged.
            assert assert_error(client.post(path, json=body), status) == str(error), path


def test_a_bug_is_a_500_without_details() -> None:
    settings = Settings(_env_file=None)
    app = create_app(settings, service=FailingService(settings, TypeError("secret detail")))
    with TestClient(app, raise_server_exceptions=False) as client:
        message = assert_error(client.post("/api/ask", json={"question": "x"}), 500)
    assert "secret" not in message


def test_in_band_errors_keep_engine_messages_only() -> None:
    assert in_band_error(errors.IndexBusyError("稍后再试")) == {"error": {"message": "稍后再试", "type": "service_unavailable"}}
    assert in_band_error(errors.QuestionError("过长"))["error"]["type"] == "invalid_request_error"
    hidden = in_band_error(KeyError("internal"))["error"]
    assert "internal" not in hidden["message"] and hidden["type"] == "server_error"
