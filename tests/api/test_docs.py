"""/docs and /redoc work offline, and the answer schemas describe every field (issue 13, defect 7)."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.config import Settings

DESCRIBED = ("Answer", "Citation", "Passage", "Confidence", "Timings", "RagChatCompletion", "Choice",
             "ChatCompletionMessage", "CompletionUsage")


@pytest.fixture(scope="module")
def docs_client(tmp_path_factory) -> Iterator[TestClient]:
    # No service needed: the documentation does not depend on the index.
    settings = Settings(_env_file=None, data_dir=tmp_path_factory.mktemp("docs"), mode="extractive")
    yield TestClient(create_app(settings))


def _asset_urls(page: str) -> list[str]:
    return re.findall(r"""(?:src|href)=["']([^"']+)["']|url:\s*["']([^"']+)["']""", page)


@pytest.mark.parametrize("path", ["/docs", "/redoc"])
def test_docs_pages_load_only_local_assets(docs_client: TestClient, path: str) -> None:
    page = docs_client.get(path)
    assert page.status_code == 200
    assert not re.search(r"https?://", page.text), "a CDN or font URL in the page"
    urls = [a or b for a, b in _asset_urls(page.text)]
    assert any(u.endswith(".js") for u in urls)
    for url in urls:
        assert url.startswith("/"), url
        asset = docs_client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 100


def test_every_answer_field_is_described(docs_client: TestClient) -> None:
    schemas = docs_client.get("/openapi.json").json()["components"]["schemas"]
    for name in DESCRIBED:
        properties = schemas[name]["properties"]
        undescribed = [field for field, spec in properties.items() if not spec.get("description")]
        assert not undescribed, (name, undescribed)
    assert "[n]" in schemas["RagChatCompletion"]["properties"]["citations"]["description"]
    assert "prompt" in schemas["CompletionUsage"]["properties"]["prompt_tokens"]["description"]
