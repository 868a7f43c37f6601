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


# ------------------------------------------------------------------ the token guards the UI too (issue 13, defect 1)

TOKEN = "s3cret-token"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture(scope="module")
def guarded_url(service: RagService) -> Iterator[str]:
    settings = service.settings.model_copy(update={"api_token": TOKEN, "admin_token": "", "cors_origins": []})
    with running_server(build_app(settings, service=service)) as url:
        yield url


def test_gradio_api_routes_need_the_token(guarded_url: str) -> None:
    # Without the token Gradio's own API lists and runs the chat handler for anyone.
    for path in ("/ui/gradio_api/info", "/ui/config", "/ui/gradio_api/queue/status"):
        response = httpx.get(guarded_url + path)
        assert response.status_code == 401, (path, response.text[:200])
        assert response.json()["error"]["type"] == "authentication_error"
    joined = httpx.post(f"{guarded_url}/ui/gradio_api/call/_chat", json={"data": ["黑石BXPE基金的管理费是多少？"]})
    assert joined.status_code == 401 and "1.25" not in joined.text
    queued = httpx.post(f"{guarded_url}/ui/gradio_api/queue/join", json={"data": [], "fn_index": 0, "session_hash": "x"})
    assert queued.status_code == 401
    info = httpx.get(f"{guarded_url}/ui/gradio_api/info", headers=BEARER)
    assert info.status_code == 200 and "/_chat" in info.json()["named_endpoints"]


def test_gradio_client_needs_the_token(guarded_url: str) -> None:
    from gradio_client import Client

    with pytest.raises(Exception):  # noqa: B017 (gradio_client raises its own kinds for a 401)
        Client(f"{guarded_url}/ui/", verbose=False)
    client = Client(f"{guarded_url}/ui/", headers=BEARER, verbose=False)
    assert "/_chat" in client.view_api(print_info=False, return_format="dict")["named_endpoints"]


def test_a_browser_is_sent_to_the_login_page_and_back(guarded_url: str) -> None:
    with httpx.Client(base_url=guarded_url) as browser:
        page = browser.get("/ui/", headers={"Accept": "text/html"})
        assert page.status_code == 303 and page.headers["location"].startswith("/login?next=")
        login = browser.get(page.headers["location"])
        assert login.status_code == 200 and "访问令牌" in login.text and 'name="token"' in login.text
        wrong = browser.post("/login", data={"token": "nope", "next": "/ui/"})
        assert wrong.status_code == 401 and "令牌错误" in wrong.text and "rag_session" not in wrong.headers.get(
            "set-cookie", ""
        )
        right = browser.post("/login", data={"token": TOKEN, "next": "/ui/"})
        assert right.status_code == 303 and right.headers["location"] == "/ui/"
        cookie = right.headers["set-cookie"]
        assert "HttpOnly" in cookie and TOKEN not in cookie  # an HMAC of the token, not the token
        assert browser.get("/ui/", headers={"Accept": "text/html"}).status_code == 200
        assert browser.get("/ui/gradio_api/info").status_code == 200  # the page's own calls carry the cookie
        browser.get("/logout")
        assert browser.get("/ui/gradio_api/info").status_code == 401


def test_login_never_redirects_off_site(guarded_url: str) -> None:
    for target in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        response = httpx.post(f"{guarded_url}/login", data={"token": TOKEN, "next": target})
        assert response.headers["location"] == "/ui/"


def test_healthz_without_the_token_says_only_ok(guarded_url: str) -> None:
    bare = httpx.get(f"{guarded_url}/healthz")
    assert bare.status_code == 200 and bare.json() == {"status": "ok"}
    full = httpx.get(f"{guarded_url}/healthz", headers=BEARER).json()
    assert full["status"] == "ok" and full["files"] > 0 and full["index_version"]
    assert full["llm"]["state"] in {"not_started", "running", "external", "restarting", "failed"}


def test_the_widget_page_loads_but_reveals_nothing_without_the_token(guarded_url: str) -> None:
    page = httpx.get(f"{guarded_url}/embed")
    assert page.status_code == 200 and "黑石" not in page.text
    ask = {"question": "黑石BXPE基金的管理费是多少？", "mode": "extractive"}
    assert httpx.post(f"{guarded_url}/api/ask/stream", json=ask).status_code == 401
    assert httpx.post(f"{guarded_url}/api/feedback", json={"rating": "up"}).status_code == 401
    streamed = httpx.post(f"{guarded_url}/api/ask/stream", json=ask, headers=BEARER)
    assert streamed.status_code == 200 and "1.25%" in streamed.text


def test_an_open_server_has_no_login(client: TestClient) -> None:
    assert client.get("/ui/gradio_api/info").status_code == 200
    assert client.get("/login?next=/ui/", follow_redirects=False).headers["location"] == "/ui/"


def test_an_unknown_gradio_queue_session_is_a_clean_404(client: TestClient) -> None:
    # Gradio raised this 404 inside an already started 200 stream (a cut-off response; bench/fuzz_api.py).
    response = client.get("/ui/gradio_api/queue/data?session_hash=no-such-session")
    assert response.status_code == 404 and response.json()["error"]["type"] == "not_found_error"


def test_gradio_answers_a_body_json_cannot_echo_with_a_422(client: TestClient) -> None:
    # 1e999999 parses as inf; Gradio's default handler echoed it and failed with a 500 (bench/fuzz_api.py).
    response = client.post("/ui/gradio_api/queue/join", content=b"1e999999", headers={"Content-Type": "application/json"})
    assert response.status_code == 422 and response.json()["detail"][0]["loc"] == ["body"]
