"""The service holder builds the service from the settings it is given, in the background."""

from __future__ import annotations

import time
from pathlib import Path

from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.config import Settings


def _wait_for_health(client: TestClient, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        body = client.get("/healthz").json()
        if body["status"] != "loading" or time.monotonic() > deadline:
            return body
        time.sleep(0.2)


def test_the_given_settings_are_used_to_load_the_service(tmp_path: Path) -> None:
    settings = Settings(_env_file=None, index_dir=tmp_path / "no-index-here", data_dir=tmp_path)
    with TestClient(create_app(settings)) as client:
        body = _wait_for_health(client)
        assert body["status"] == "error" and "IndexNotFoundError" in body["error"]
        response = client.post("/api/ask", json={"question": "管理费是多少？"})
    assert response.status_code == 503 and "加载失败" in response.json()["error"]["message"]


def test_a_server_without_a_service_loads_and_warms_one(settings: Settings, index_dir: Path) -> None:
    tuned = settings.model_copy(update={"mode": "extractive", "top_k": 2})
    with TestClient(create_app(tuned, index_dir=index_dir)) as client:
        body = _wait_for_health(client)
        assert body["status"] == "ok" and body["mode"] == "extractive" and body["files"] > 0
        # top_k comes from the settings given to create_app, not from the environment.
        answer = client.post("/api/ask", json={"question": "黑石BXPE基金的管理费是多少？"}).json()
    assert len(answer["retrieved"]) <= 2 and answer["mode"] == "extractive"
