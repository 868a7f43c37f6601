"""Request models at the edge: text that is not valid Unicode is a 422, over a real keep-alive connection."""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterator
from urllib.parse import urlsplit

import pydantic
import pytest

from rag.api.schemas import AskRequest, ChatCompletionRequest, SearchRequest

# JSON allows a lone UTF-16 surrogate ("\udfff" as an escape); Python decodes it to a str
# that cannot be encoded, which used to fail inside the tokenizer as a 500.
LONE = "\\udfff"
BXPE = "黑石BXPE基金的管理费是多少？"

BAD_BODIES = {
    "question": ("/api/ask", f'{{"question": "{LONE}"}}'),
    "question, streamed": ("/api/ask/stream", f'{{"question": "管理费{LONE}"}}'),
    "history": ("/api/ask", f'{{"question": "{BXPE}", "history": [{{"role": "user", "content": "{LONE}"}}]}}'),
    "mode": ("/api/ask", f'{{"question": "{BXPE}", "mode": "{LONE}"}}'),
    "search": ("/api/search", f'{{"query": "{LONE}"}}'),
    "chat message": ("/v1/chat/completions", f'{{"model": "rag", "messages": [{{"role": "user", "content": "{LONE}"}}]}}'),
    "chat part": (
        "/v1/chat/completions",
        f'{{"messages": [{{"role": "user", "content": [{{"type": "text", "text": "{LONE}"}}]}}]}}',
    ),
    "chat stream": (
        "/v1/chat/completions",
        f'{{"stream": true, "messages": [{{"role": "user", "content": "{BXPE}{LONE}"}}]}}',
    ),
    "model name": ("/v1/chat/completions", f'{{"model": "{LONE}", "messages": [{{"role": "user", "content": "{BXPE}"}}]}}'),
}


@pytest.fixture
def connection(live_url: str) -> Iterator[http.client.HTTPConnection]:
    """One HTTP/1.1 keep-alive connection to the live server."""
    url = urlsplit(live_url)
    conn = http.client.HTTPConnection(url.hostname, url.port, timeout=120)
    yield conn
    conn.close()


def post(conn: http.client.HTTPConnection, path: str, body: str) -> tuple[int, dict]:
    conn.request("POST", path, body=body.encode("utf-8"), headers={"Content-Type": "application/json"})
    response = conn.getresponse()
    return response.status, json.loads(response.read())


@pytest.mark.parametrize("case", list(BAD_BODIES))
def test_a_lone_surrogate_is_a_422_and_the_connection_lives_on(connection: http.client.HTTPConnection, case: str) -> None:
    path, body = BAD_BODIES[case]
    status, error = post(connection, path, body)
    assert status == 422, error
    assert set(error) == {"error"} and error["error"]["type"] == "invalid_request_error"
    assert "not valid Unicode" in error["error"]["message"]

    # The same socket answers the next request (a 500 here used to reset it).
    sock = connection.sock
    status, result = post(connection, "/api/search", json.dumps({"query": "黑石BXPE基金管理费", "k": 1}))
    assert connection.sock is sock, "the server closed the keep-alive connection"
    assert status == 200 and len(result["results"]) == 1


def test_valid_unicode_outside_the_basic_plane_is_accepted() -> None:
    # A proper surrogate *pair* in JSON is one character (an emoji), which is fine.
    request = AskRequest.model_validate_json('{"question": "\\ud83d\\ude00 管理费"}')
    assert request.question == "😀 管理费"


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (AskRequest, {"question": "\udfff"}),
        (AskRequest, {"question": "q", "history": [{"role": "assistant", "content": "a\ud800b"}]}),
        (SearchRequest, {"query": "\udfff"}),
        (ChatCompletionRequest, {"messages": [{"role": "user", "content": "\udfff"}]}),
        (ChatCompletionRequest, {"messages": [{"role": "user", "content": [{"type": "text", "text": "\udfff"}]}]}),
    ],
)
def test_request_models_reject_invalid_unicode(model: type[pydantic.BaseModel], data: dict) -> None:
    with pytest.raises(pydantic.ValidationError, match="not valid Unicode"):
        model.model_validate(data)
