"""A seeded 200-request slice of bench/fuzz_api.py: no malformed request gets a 5xx, the server lives on."""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterator

import pytest

from rag.config import PROJECT_ROOT
from rag.server import build_app, running_server
from rag.service import RagService

_spec = importlib.util.spec_from_file_location("fuzz_api", PROJECT_ROOT / "bench" / "fuzz_api.py")
assert _spec and _spec.loader
fuzz_api = importlib.util.module_from_spec(_spec)
sys.modules["fuzz_api"] = fuzz_api  # dataclasses look their module up there
_spec.loader.exec_module(fuzz_api)


@pytest.fixture(scope="module")
def fuzz_url(service: RagService, tmp_path_factory) -> Iterator[str]:
    # As the bench runs it: extractive, no API token, an admin token so no request starts an ingest.
    settings = service.settings.model_copy(
        update={"api_token": "", "admin_token": fuzz_api.ADMIN_TOKEN, "cors_origins": [], "mode": "extractive",
                "data_dir": tmp_path_factory.mktemp("fuzz")}
    )
    with running_server(build_app(settings, service=service)) as url:
        yield url


def test_the_cases_cover_every_endpoint_and_kind() -> None:
    todo = fuzz_api.cases(1200, seed=13)
    paths = {c.path.split("?")[0] for c in todo}
    for path in ("/api/ask", "/api/ask/stream", "/api/search", "/v1/chat/completions", "/api/feedback",
                 "/api/documents", "/api/documents/ingest", "/healthz", "/v1/models", "/login"):
        assert path in paths, path
    kinds = {c.kind for c in todo}
    assert {"bad json", "10 MB body", "wrong method", "gradio api", "upload bad type"} <= kinds
    bodies = b"".join(c.body or b"" for c in todo if c.kind.startswith("json"))
    assert b"\\udfff" in bodies or b"\\ud800" in bodies  # lone surrogates
    assert b"\\u0000" in bodies and b"true" in bodies  # NUL, bools for k
    assert fuzz_api.cases(50, seed=5)[7].body == fuzz_api.cases(50, seed=5)[7].body  # reproducible


def test_200_malformed_requests_get_no_5xx(fuzz_url: str) -> None:
    report = fuzz_api.run(fuzz_url, fuzz_api.cases(200, seed=2026, big_bodies=1), max_seconds=300)
    assert report.sent == 200
    assert not report.failures, report.failures[:10]
    assert report.statuses[422] + report.statuses[400] > 50  # most of them are refused as malformed
    assert report.alive_after
