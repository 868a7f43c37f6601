"""The composition root: the API, the widget and the chat UI in one app (rag.server.build_app)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from rag.server import build_app, running_server
from rag.service import RagService


@pytest.fixture(scope="module")
def client(service: RagService) -> Iterator[TestClient]:
    settings = service.settings.model_copy(update={"api_token": "", "cors_origins": []})
    with TestClient(build_app(settings, service=service)) as test_client:
        yield test_client


def test_root_redirects_to_the_ui(client: TestClient) -> None:
    response = client.get("/", follow_redirects=False)
    assert response.status_code in (302, 307)
    assert response.headers["location"] == "/ui/"
    page = client.get("/ui/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]


def test_widget_and_embed_are_served(client: TestClient) -> None:
    script = client.get("/widget.js")
    assert script.status_code == 200
    assert "javascript" in script.headers["content-type"]
    assert script.headers["cache-control"] == "no-cache"
    assert "attachShadow" in script.text
    embed = client.get("/embed")
    assert embed.status_code == 200 and "text/html" in embed.headers["content-type"]
    assert 'src="widget.js"' in embed.text and 'data-inline="true"' in embed.text


def test_the_api_is_part_of_the_server(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    paths = client.get("/openapi.json").json()["paths"]
    assert "/api/ask" in paths and "/v1/chat/completions" in paths
    assert "/widget.js" not in paths  # static routes stay out of the API description


def test_widget_needs_no_token_when_the_api_does(service: RagService) -> None:
    settings = service.settings.model_copy(update={"api_token": "s3cret"})
    with running_server(build_app(settings, service=service, ui=False)) as url:
        assert httpx.get(f"{url}/widget.js").status_code == 200
        assert httpx.get(f"{url}/embed").status_code == 200
        assert httpx.get(f"{url}/v1/models").status_code == 401
        assert httpx.get(f"{url}/ui/").status_code == 404  # ui=False: the API and the widget only
