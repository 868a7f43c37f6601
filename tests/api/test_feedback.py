"""POST /api/feedback from any client, GET /api/feedback (admin) as JSON and CSV; the storage module."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.config import Settings
from rag.feedback import FeedbackEntry, FeedbackStore, to_csv
from tests.api.api_support import assert_error

API = {"Authorization": "Bearer api-token"}
ADMIN = {"Authorization": "Bearer admin-token"}
RATING = {
    "rating": "down",
    "question": "黑石BXPE基金的管理费是多少？",
    "answer": "管理费为1.25%[1]。",
    "citations": [{"n": 1, "file": "a.txt", "chunk_id": "c1", "title": "黑石", "text": "……1.25%……", "score": 0.9}],
    "comment": "=HYPERLINK(\"x\") 数字不对",
    "index_version": "v-test",
    "mode": "extractive",
    "source": "widget",
}


@pytest.fixture()
def client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(_env_file=None, data_dir=tmp_path, api_token="api-token", admin_token="admin-token")
    yield TestClient(create_app(settings))  # no service needed to store feedback


def test_feedback_is_stored_with_question_answer_citations_and_version(client: TestClient, tmp_path: Path) -> None:
    response = client.post("/api/feedback", json=RATING, headers=API)
    assert response.status_code == 201, response.text
    assert response.json()["index_version"] == "v-test"
    line = json.loads((tmp_path / "feedback.jsonl").read_text(encoding="utf-8"))
    assert line["question"] == RATING["question"] and line["answer"] == RATING["answer"]
    assert line["citations"][0] == {"n": 1, "file": "a.txt", "chunk_id": "c1", "title": "黑石", "text": "……1.25%……"}
    assert line["rating"] == "down" and line["source"] == "widget" and line["id"] == response.json()["id"]


def test_feedback_needs_the_api_token_and_listing_the_admin_token(client: TestClient) -> None:
    assert_error(client.post("/api/feedback", json=RATING), 401)
    client.post("/api/feedback", json=RATING, headers=API)
    assert_error(client.get("/api/feedback"), 401)
    assert_error(client.get("/api/feedback", headers=API), 401)
    listed = client.get("/api/feedback", headers=ADMIN).json()
    assert listed["count"] == 1 and listed["items"][0]["comment"].startswith("=HYPERLINK")


def test_feedback_exports_as_csv_safe_for_spreadsheets(client: TestClient) -> None:
    client.post("/api/feedback", json=RATING, headers=API)
    client.post("/api/feedback", json={**RATING, "rating": "up", "comment": ""}, headers=API)
    response = client.get("/api/feedback?format=csv", headers=ADMIN)
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text.lstrip("\ufeff"))))
    assert [r["rating"] for r in rows] == ["down", "up"]
    assert rows[0]["comment"].startswith("'=")  # not run as a formula
    assert rows[0]["citations"] == "[1] a.txt c1" and rows[0]["question"] == RATING["question"]
    assert client.get("/api/feedback?limit=1", headers=ADMIN).json()["items"][0]["rating"] == "up"


@pytest.mark.parametrize(
    "change",
    [{"rating": "meh"}, {"rating": True}, {"question": ""}, {"question": 5}, {"citations": "x"},
     {"citations": [{"n": "one"}]}, {"comment": "x" * 3000}, {"extra": 1}, {"answer": None}],
)
def test_bad_feedback_is_422(client: TestClient, change: dict) -> None:
    assert_error(client.post("/api/feedback", json={**RATING, **change}, headers=API), 422)


def test_store_reads_old_ui_lines_and_skips_damaged_ones(tmp_path: Path) -> None:
    path = tmp_path / "feedback.jsonl"
    old_ui_line = {"ts": "2026-01-01T00:00:00", "rating": "up", "question": "q", "answer": "a", "refused": False,
                   "mode": "local", "citations": []}
    path.write_text(json.dumps(old_ui_line) + "\n{broken\n", encoding="utf-8")
    store = FeedbackStore(path)
    store.add(FeedbackEntry(rating="down", question="q2", answer="a2", source="ui"))
    entries = store.entries()
    assert [e.question for e in entries] == ["q", "q2"] and entries[0].mode == "local"
    assert to_csv(entries).startswith("\ufeffid,ts,rating")
