"""Fixtures for the HTTP API tests: apps on the shared `service` (tests/conftest.py), a live server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.server import running_server
from rag.service import RagService
from tests.api.api_support import settings_for


@pytest.fixture(scope="module")
def app(service: RagService) -> FastAPI:
    return create_app(settings_for(service, api_token="", cors_origins=[]), service=service)


@pytest.fixture(scope="module")
def client(app: FastAPI) -> Iterator[TestClient]:
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def live_url(app: FastAPI) -> Iterator[str]:
    """The app served by a real uvicorn on a free 127.0.0.1 port."""
    with running_server(app) as url:
        yield url
