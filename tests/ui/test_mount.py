"""The UI mounted on the API app: / redirects to /ui/, the page's CSS and script, the admin token."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx
import pytest

from rag.config import Settings
from rag.index.store import current_version_dir
from ui.handlers import ADMIN_TOKEN_ERROR
from ui.mount import mount_ui

if TYPE_CHECKING:
    from rag.service import RagService

pytestmark = pytest.mark.slow

ADMIN_TOKEN = "s3cret-admin-令牌"


@contextmanager
def ui_server(svc: RagService, settings: Settings) -> Iterator[str]:
    from rag.api.app import create_app
    from rag.server import running_server

    with running_server(mount_ui(create_app(settings, service=svc), lambda: svc, settings)) as url:
        yield url


def call_ui(url: str, api_name: str, *data: Any) -> tuple[str, Any]:
    """One event through the mounted UI's HTTP API, as the browser's buttons send it."""
    with httpx.Client(base_url=f"{url}/ui/gradio_api", timeout=120) as client:
        started = client.post(f"/call/{api_name}", json={"data": list(data)})
        started.raise_for_status()
        stream = client.get(f"/call/{api_name}/{started.json()['event_id']}").text
    event = next(line.removeprefix("event: ") for line in stream.splitlines() if line.startswith("event: "))
    payload = next(line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data: "))
    return event, json.loads(payload)


def ui_config(url: str) -> dict[str, Any]:
    return httpx.get(f"{url}/ui/config", timeout=30).json()


def admin_token_box(config: dict[str, Any]) -> dict[str, Any]:
    return next(c["props"] for c in config["components"] if c["props"].get("elem_id") == "rag-admin-token")


def test_admin_token_falls_back_to_the_api_token() -> None:
    assert Settings(_env_file=None).required_admin_token == ""
    assert Settings(_env_file=None, api_token="api").required_admin_token == "api"
    assert Settings(_env_file=None, api_token="api", admin_token="adm").required_admin_token == "adm"


def test_mounted_ui_asks_for_the_token_and_checks_it(tmp_path: Path, small_service: RagService) -> None:
    settings = small_service.settings.model_copy(update={"admin_token": ADMIN_TOKEN, "data_dir": tmp_path})
    version = current_version_dir(small_service.settings.index_dir)
    with ui_server(small_service, settings) as url:
        box = admin_token_box(ui_config(url))
        assert box["visible"] is True and box["type"] == "password" and box["label"] == "管理口令"

        # Refused in the status box (no Error badges in the tab); no file list is sent.
        for given in ("", "wrong"):
            event, data = call_ui(url, "admin_refresh", given)
            assert event == "complete" and data[2] == ADMIN_TOKEN_ERROR
            assert "news.jsonl" not in json.dumps(data[:2])
        event, data = call_ui(url, "admin_reingest", "wrong")
        assert event == "complete" and data[2] == ADMIN_TOKEN_ERROR
        assert current_version_dir(small_service.settings.index_dir) == version

        event, data = call_ui(url, "admin_refresh", ADMIN_TOKEN)
        assert event == "complete" and [row[0] for row in data[0]["data"]] == ["news.jsonl"]


def test_mounted_ui_without_a_token_keeps_the_admin_tab_open(tmp_path: Path, small_service: RagService) -> None:
    settings = small_service.settings.model_copy(update={"admin_token": "", "api_token": "", "data_dir": tmp_path})
    with ui_server(small_service, settings) as url:
        config = ui_config(url)
        assert admin_token_box(config)["visible"] is False
        event, data = call_ui(url, "admin_refresh", "")
        assert event == "complete" and [row[0] for row in data[0]["data"]] == ["news.jsonl"]

        # The page carries the CSS and the citation-link script from ui/static.
        assert "a.rag-cite" in config["css"] and "closest('a.rag-cite')" in config["head"]
        root = httpx.get(f"{url}/", timeout=30, follow_redirects=False)
        assert root.status_code in (302, 307) and root.headers["location"] == "/ui/"
