"""Loopback addresses and what answers at them: shared by the supervisor, the registry
and the child process.

Plain urllib without proxies, on purpose: a proxy must never see loopback traffic,
and httpx would log every health poll at INFO.
"""

from __future__ import annotations

import http.client
import ipaddress
import json
import socket
import urllib.error
import urllib.request
from typing import Any, Literal

State = Literal["ok", "loading", "other", "down"]


def is_loopback(host: str) -> bool:
    """The server only ever binds to loopback: answers must not leave the machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 addresses in brackets)."""
    return f"[{host}]" if ":" in host else host


def root_url(host: str, port: int) -> str:
    return f"http://{url_host(host)}:{port}"


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (the OS picks it)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _opener() -> urllib.request.OpenerDirector:
    return urllib.request.build_opener(urllib.request.ProxyHandler({}))


def probe(root: str, timeout: float = 1.0) -> State:
    """What answers at ``root``: "ok", "loading", "other" (not llama.cpp) or "down"."""
    try:
        with _opener().open(f"{root}/health", timeout=timeout) as r:
            status, body = r.status, r.read(4096)
    except urllib.error.HTTPError as e:
        status, body = e.code, b""
    except (OSError, http.client.HTTPException):
        return "down"
    if status == 200:
        try:
            return "ok" if json.loads(body).get("status") == "ok" else "other"
        except ValueError:
            return "other"
    if status == 503:  # llama.cpp while loading: {"error": {"message": "Loading model"}}
        return "loading"
    return "other"


def get_json(url: str, timeout: float = 2.0) -> Any:
    """The JSON at ``url``, or None when nothing sensible answers."""
    try:
        with _opener().open(url, timeout=timeout) as r:
            return json.loads(r.read())
    except (OSError, ValueError, http.client.HTTPException):
        return None
