"""What answers at a loopback address, against real HTTP servers (no model needed)."""

from __future__ import annotations

import pytest

from rag.llm_runtime.net import free_port, get_json, is_loopback, probe, root_url, url_host
from tests.llm_runtime.http_stub import reply, stub_server


@pytest.mark.parametrize(
    ("status", "body", "state"),
    [
        (200, {"status": "ok"}, "ok"),
        (503, {"error": {"message": "Loading model"}}, "loading"),  # llama.cpp while loading
        (200, b"<html>hello</html>", "other"),
        (200, {"status": "starting"}, "other"),
        (404, b"", "other"),
    ],
)
def test_probe_reads_the_health_endpoint(status: int, body: object, state: str) -> None:
    with stub_server(lambda h: reply(h, status, body)) as root:
        assert probe(root) == state


def test_probe_of_a_free_port_is_down() -> None:
    assert probe(root_url("127.0.0.1", free_port())) == "down"


def test_get_json_gives_none_when_nothing_sensible_answers() -> None:
    with stub_server(lambda h: reply(h, 200, {"data": [{"id": "m"}]})) as root:
        assert get_json(f"{root}/v1/models") == {"data": [{"id": "m"}]}
    with stub_server(lambda h: reply(h, 200, b"not json")) as root:
        assert get_json(f"{root}/v1/models") is None
    assert get_json(f"{root_url('127.0.0.1', free_port())}/v1/models") is None


def test_only_loopback_hosts_count_as_loopback() -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("0.0.0.0") and not is_loopback("192.168.1.2") and not is_loopback("example.com")


def test_ipv6_hosts_are_bracketed_in_urls() -> None:
    assert url_host("::1") == "[::1]"
    assert root_url("::1", 8081) == "http://[::1]:8081"
    assert root_url("127.0.0.1", 8081) == "http://127.0.0.1:8081"
