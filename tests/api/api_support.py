"""Helpers shared by the API tests (a plain module: conftest.py is not importable by name)."""

from __future__ import annotations

import json
import re
from typing import Any

from rag.config import Settings
from rag.service import RagService


def settings_for(service: RagService, **overrides: object) -> Settings:
    """The service's settings with serving options changed (token, CORS, default mode)."""
    return service.settings.model_copy(update=overrides)


def sse_events(body: str) -> list[tuple[str, Any]]:
    """(event name, decoded data) for each frame of a text/event-stream body; comments skipped."""
    events: list[tuple[str, Any]] = []
    for frame in re.split(r"\r?\n\r?\n", body.strip()):
        name, data = "message", []
        for line in frame.splitlines():
            if line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].lstrip())
        if data:
            text = "\n".join(data)
            events.append((name, text if text == "[DONE]" else json.loads(text)))
    return events


def assert_error(response: Any, status: int) -> str:
    """The response is the documented error shape with this status; returns the message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error"}
    assert body["error"]["type"]
    assert body["error"]["message"]
    return body["error"]["message"]


def assert_cited_answer(result: dict[str, Any]) -> None:
    """An answer whose [n] markers and citations[].n match, each citation with its highlight."""
    assert result["refused"] is False
    numbers = {int(n) for n in re.findall(r"\[(\d+)\]", result["answer"])}
    assert numbers, result["answer"]
    assert numbers == {c["n"] for c in result["citations"]}
    for citation in result["citations"]:
        assert citation["file"] and citation["text"] and citation["chunk_id"]
        assert citation["highlight"] and citation["highlight"][:10] in citation["text"]
