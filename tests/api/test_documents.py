"""The document REST API over HTTP: upload, list, delete, re-ingest with progress, admin token."""

from __future__ import annotations

import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from rag.api.app import create_app
from rag.config import Settings
from rag.server import running_server
from rag.service import RagService
from tests.api.api_support import assert_error

ADMIN = {"Authorization": "Bearer admin-token"}
API = {"Authorization": "Bearer api-token"}
DOC = (
    "# 青岚湖观鸟站年度报告\n\n"
    "青岚湖观鸟站2024年共记录到鸟类213种，比上一年增加了17种。\n\n"
    "观鸟站站长林晓峰表示，今年首次记录到青头潜鸭在湖区越冬。\n"
)


@pytest.fixture(scope="module")
def docs_url(settings: Settings, index_dir: Path, tmp_path_factory) -> Iterator[str]:
    """A server over a private copy of the index (this module re-ingests it)."""
    root = tmp_path_factory.mktemp("docs-api")
    shutil.copytree(index_dir, root / "index")
    own = settings.model_copy(
        update={"data_dir": root, "index_dir": root / "index", "api_token": "api-token", "admin_token": "admin-token"}
    )
    service = RagService(own, root / "index").warm_up()
    with running_server(create_app(own, service=service)) as url:
        yield url


def _wait(url: str, job: dict, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    seen = []
    while True:
        state = httpx.get(f"{url}/api/jobs/{job['id']}", headers=ADMIN).json()
        seen.append(state["progress"])
        if state["state"] in ("done", "failed"):
            assert seen == sorted(seen), "progress never goes back"
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def test_the_document_api_needs_the_admin_token(docs_url: str) -> None:
    assert_error(httpx.get(f"{docs_url}/api/documents"), 401)
    assert_error(httpx.get(f"{docs_url}/api/documents", headers=API), 401)  # the API token is not enough
    assert_error(httpx.post(f"{docs_url}/api/documents/ingest", headers=API), 401)
    assert_error(httpx.delete(f"{docs_url}/api/documents/x.txt"), 401)
    assert httpx.get(f"{docs_url}/api/documents", headers=ADMIN).status_code == 200


def test_list_has_titles_and_counts(docs_url: str) -> None:
    body = httpx.get(f"{docs_url}/api/documents", headers=ADMIN).json()
    assert body["index_version"] and body["files"]
    first = body["files"][0]
    assert first["source"] == "corpus" and first["articles"] >= 1 and first["chunks"] >= 1
    assert first["titles"] and all(isinstance(t, str) and t for t in first["titles"])


def test_upload_ingest_search_delete(docs_url: str) -> None:
    files = {"files": ("观鸟站报告.md", DOC.encode("utf-8"), "text/markdown")}
    accepted = httpx.post(f"{docs_url}/api/documents", files=files, headers=ADMIN)
    assert accepted.status_code == 202, accepted.text
    body = accepted.json()
    assert body["stored"] == ["观鸟站报告.md"] and body["job"]["kind"] == "upload"
    done = _wait(docs_url, body["job"])
    assert done["state"] == "done" and done["progress"] == 1.0, done
    assert "观鸟站报告.md" in done["result"]["files_changed"]

    listed = {f["file"]: f for f in httpx.get(f"{docs_url}/api/documents", headers=ADMIN).json()["files"]}
    mine = listed["观鸟站报告.md"]
    assert mine["source"] == "upload" and mine["chunks"] >= 1 and "青岚湖观鸟站年度报告" in mine["titles"]
    hits = httpx.post(f"{docs_url}/api/search", json={"query": "青岚湖观鸟站记录到多少种鸟类", "k": 3}, headers=API)
    assert hits.json()["results"][0]["file"] == "观鸟站报告.md"

    again = httpx.post(f"{docs_url}/api/documents", files=files, headers=ADMIN)
    assert "已有同名文件" in assert_error(again, 422)  # never replaced silently

    gone = httpx.delete(f"{docs_url}/api/documents/观鸟站报告.md", headers=ADMIN)
    assert gone.status_code == 202
    assert _wait(docs_url, gone.json()["job"])["state"] == "done"
    listed = {f["file"] for f in httpx.get(f"{docs_url}/api/documents", headers=ADMIN).json()["files"]}
    assert "观鸟站报告.md" not in listed


def test_bad_uploads_are_refused_and_nothing_is_stored(docs_url: str) -> None:
    png = {"files": ("photo.png", b"\x89PNG\r\n\x1a\n", "image/png")}
    assert "不支持的文件类型" in assert_error(httpx.post(f"{docs_url}/api/documents", files=png, headers=ADMIN), 422)
    mixed = [("files", ("ok-one.txt", "一二三。".encode(), "text/plain")), ("files", ("bad.exe", b"MZ", "x/y"))]
    assert_error(httpx.post(f"{docs_url}/api/documents", files=mixed, headers=ADMIN), 422)
    assert_error(httpx.post(f"{docs_url}/api/documents", headers=ADMIN), 422)  # no files at all
    listed = {f["file"] for f in httpx.get(f"{docs_url}/api/documents", headers=ADMIN).json()["files"]}
    assert "ok-one.txt" not in listed


def test_unknown_files_and_jobs_are_404(docs_url: str) -> None:
    assert_error(httpx.delete(f"{docs_url}/api/documents/no-such-file.txt", headers=ADMIN), 404)
    assert_error(httpx.get(f"{docs_url}/api/jobs/0123456789abcdef", headers=ADMIN), 404)


def test_reingest_reports_progress(docs_url: str) -> None:
    accepted = httpx.post(f"{docs_url}/api/documents/ingest", headers=ADMIN)
    assert accepted.status_code == 202
    done = _wait(docs_url, accepted.json()["job"])
    assert done["state"] == "done" and done["result"]["files"] >= 1 and done["stage"] == "done"


def test_documented_in_openapi(docs_url: str) -> None:
    paths = httpx.get(f"{docs_url}/openapi.json").json()["paths"]
    assert {"post", "get"} <= set(paths["/api/documents"]) and "delete" in paths["/api/documents/{name}"]
    assert "multipart/form-data" in paths["/api/documents"]["post"]["requestBody"]["content"]
    assert "/api/jobs/{job_id}" in paths and "/api/documents/ingest" in paths
