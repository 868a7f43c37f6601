"""The JSON API, its error convention, auth and CORS, on the real index."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rag.api.app import create_app
from rag.config import Settings
from rag.service import RagService
from tests.api.api_support import assert_cited_answer, assert_error, settings_for, sse_events

BXPE = "黑石BXPE基金的管理费是多少？"
CARS = "2023年中国汽车出口了多少辆？"
OFF_TOPIC = "火星上有几只猫？"


# ------------------------------------------------------------------ health and docs


def test_healthz_reports_the_loaded_index(client: TestClient, service: RagService) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["index_version"] == service.index_version
    assert body["chunks"] > 0 and body["files"] > 0


def test_healthz_is_503_until_the_service_is_loaded(settings: Settings) -> None:
    # Without entering the client context the lifespan never starts the loader thread,
    # which is exactly the state of a server still loading its models.
    loading = TestClient(create_app(settings))
    response = loading.get("/healthz")
    assert response.status_code == 503
    assert response.json()["status"] == "loading"
    assert_error(loading.post("/api/ask", json={"question": BXPE}), 503)
    assert_error(loading.post("/v1/chat/completions", json={"messages": [{"role": "user", "content": BXPE}]}), 503)


def test_openapi_docs(client: TestClient) -> None:
    assert client.get("/docs").status_code == 200
    paths = client.get("/openapi.json").json()["paths"]
    for path in ("/api/ask", "/api/ask/stream", "/api/search", "/v1/chat/completions", "/v1/models", "/healthz"):
        assert path in paths


def test_openapi_describes_the_engine_answer(client: TestClient) -> None:
    schemas = client.get("/openapi.json").json()["components"]["schemas"]
    answer = schemas["Answer"]["properties"]
    assert {"answer", "refused", "citations", "related", "notice", "timings"} <= set(answer)
    assert "[n]" in answer["answer"]["description"]
    assert "offsets" in schemas["Citation"]["properties"]["highlight_spans"]["description"]
    assert schemas["Passage"]["properties"]["chunk_id"]["description"]
    assert "citations" in schemas["RagChatCompletion"]["properties"]
    assert schemas["AskRequest"]["additionalProperties"] is False


# ------------------------------------------------------------------ ask and search


def test_ask_returns_an_answer_with_matching_citations(client: TestClient) -> None:
    response = client.post("/api/ask", json={"question": BXPE, "mode": "extractive"})
    assert response.status_code == 200
    result = response.json()
    assert result["question"] == BXPE and result["mode"] == "extractive"
    assert_cited_answer(result)
    assert "1.25%" in result["answer"]
    assert set(result["timings"]) >= {"retrieve_ms", "generate_ms", "total_ms"}


def test_ask_refuses_off_topic_questions_with_related_passages(client: TestClient) -> None:
    result = client.post("/api/ask", json={"question": OFF_TOPIC, "mode": "extractive"}).json()
    assert result["refused"] is True
    assert "没有找到" in result["answer"]
    assert result["citations"] == []
    assert result["related"] and result["related"][0]["text"]


def test_ask_uses_history_for_a_follow_up(client: TestClient) -> None:
    history = [
        {"role": "user", "content": "黑石BXPE基金是什么？"},
        {"role": "assistant", "content": "黑石BXPE是一只面向富人出资人的PE基金[1]。"},
    ]
    result = client.post(
        "/api/ask", json={"question": "它的管理费是多少？", "history": history, "mode": "extractive", "k": 3}
    ).json()
    assert_cited_answer(result)
    assert "管理费" in result["answer"]


def test_ask_stream_sends_a_final_event(client: TestClient) -> None:
    with client.stream("POST", "/api/ask/stream", json={"question": CARS, "mode": "extractive"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        body = response.read().decode("utf-8")
    events = sse_events(body)
    assert events[-1][0] == "final"
    assert all(name == "token" for name, _ in events[:-1])
    result = events[-1][1]["result"]
    assert_cited_answer(result)
    assert "491万辆" in result["answer"]


def test_search_returns_k_ranked_passages(client: TestClient) -> None:
    body = client.post("/api/search", json={"query": "2023年中国汽车出口", "k": 3}).json()
    assert body["query"] == "2023年中国汽车出口"
    assert len(body["results"]) == 3
    scores = [r["score"] for r in body["results"]]
    assert scores == sorted(scores, reverse=True)
    assert any("491万辆" in r["text"] for r in body["results"])
    assert set(body["results"][0]) >= {"text", "file", "title", "section", "score", "chunk_id"}


# ------------------------------------------------------------------ errors: always 4xx JSON


@pytest.mark.parametrize(
    ("payload", "status", "needle"),
    [
        ({"question": ""}, 422, "为空"),
        ({"question": "   \n "}, 422, "为空"),
        ({"question": "问" * 5000}, 422, "过长"),
        ({"question": 123}, 422, "question"),
        ({"question": None}, 422, "question"),
        ({"question": ["a"]}, 422, "question"),
        ({}, 422, "question"),
        ({"question": BXPE, "mode": "psychic"}, 422, "模式"),
        ({"question": BXPE, "mode": 3}, 422, "mode"),
        ({"question": BXPE, "k": 0}, 422, "k"),
        ({"question": BXPE, "k": 1000}, 422, "k"),
        ({"question": BXPE, "k": "5"}, 422, "k"),
        ({"question": BXPE, "k": 2.5}, 422, "k"),
        ({"question": BXPE, "history": "earlier"}, 422, "history"),
        ({"question": BXPE, "history": [{"role": "system", "content": "x"}]}, 422, "role"),
        ({"question": BXPE, "history": [{"role": "user"}]}, 422, "content"),
        ({"question": BXPE, "questoin": "typo"}, 422, "questoin"),
    ],
)
@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_ask_rejects_bad_requests(client: TestClient, path: str, payload: dict, status: int, needle: str) -> None:
    message = assert_error(client.post(path, json=payload), status)
    assert needle in message


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream", "/api/search", "/v1/chat/completions"])
def test_malformed_json_is_400(client: TestClient, path: str) -> None:
    response = client.post(path, content=b'{"question": ', headers={"content-type": "application/json"})
    assert "JSON" in assert_error(response, 400)


def test_body_that_is_not_an_object_is_422(client: TestClient) -> None:
    assert_error(client.post("/api/ask", json=["a question"]), 422)
    assert_error(client.post("/api/ask", content=b"", headers={"content-type": "application/json"}), 422)


@pytest.mark.parametrize(
    "payload", [{"query": ""}, {"query": 5}, {"query": "x", "k": 0}, {"q": "x"}, {"query": "x" * 3000}]
)
def test_search_rejects_bad_requests(client: TestClient, payload: dict) -> None:
    assert_error(client.post("/api/search", json=payload), 422)


def test_search_of_whitespace_is_422(client: TestClient) -> None:
    assert_error(client.post("/api/search", json={"query": "   "}), 422)


def test_wrong_method_and_unknown_route(client: TestClient) -> None:
    assert_error(client.get("/api/ask"), 405)
    assert_error(client.get("/api/nothing-here"), 404)


# ------------------------------------------------------------------ auth and CORS


def test_bearer_token_guards_the_api_but_not_health(service: RagService) -> None:
    app = create_app(settings_for(service, api_token="s3cret"), service=service)
    with TestClient(app) as client:
        ask = {"question": BXPE, "mode": "extractive"}
        assert_error(client.post("/api/ask", json=ask), 401)
        assert_error(client.post("/api/ask", json=ask, headers={"Authorization": "Bearer wrong"}), 401)
        assert_error(client.post("/api/search", json={"query": "x"}), 401)
        assert_error(client.get("/v1/models"), 401)
        assert client.post("/api/ask", json=ask, headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).status_code == 200
        assert client.get("/healthz").status_code == 200


def test_cors_allows_only_listed_origins(service: RagService) -> None:
    allowed = "http://intranet.example"
    app = create_app(settings_for(service, cors_origins=[allowed]), service=service)
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    with TestClient(app) as client:
        ok = client.options("/api/ask/stream", headers={"Origin": allowed, **preflight})
        assert ok.status_code == 200
        assert ok.headers["access-control-allow-origin"] == allowed
        assert "authorization" in ok.headers["access-control-allow-headers"].lower()
        denied = client.options("/api/ask/stream", headers={"Origin": "http://evil.example", **preflight})
        assert "access-control-allow-origin" not in denied.headers
        simple = client.post("/api/search", json={"query": "汽车出口"}, headers={"Origin": allowed})
        assert simple.headers["access-control-allow-origin"] == allowed


def test_no_cors_headers_when_no_origin_is_configured(client: TestClient) -> None:
    response = client.post("/api/search", json={"query": "汽车出口"}, headers={"Origin": "http://elsewhere.example"})
    assert response.status_code == 200
    assert "access-control-allow-origin" not in response.headers
