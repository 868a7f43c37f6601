"""A real loopback HTTP server whose answers a test scripts: a stand-in for an LLM
endpoint that is loading, broken, slow or not llama.cpp at all."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

Handler = Callable[[BaseHTTPRequestHandler], None]


def reply(h: BaseHTTPRequestHandler, status: int, body: Any = b"", content_type: str = "application/json") -> None:
    """Send one whole response; dicts and lists go as JSON."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    h.send_response(status)
    h.send_header("content-type", content_type)
    h.send_header("content-length", str(len(data)))
    h.end_headers()
    h.wfile.write(data)


def send_events(h: BaseHTTPRequestHandler, events: list[Any]) -> None:
    """A server-sent event stream (HTTP/1.0: the body ends when the connection closes)."""
    h.send_response(200)
    h.send_header("content-type", "text/event-stream")
    h.end_headers()
    for event in events:
        h.wfile.write(b"data: " + json.dumps(event, ensure_ascii=False).encode() + b"\n\n")
        h.wfile.flush()


def chat_chunk(text: str) -> dict[str, Any]:
    """One OpenAI ``chat.completion.chunk`` carrying ``text``."""
    return {"id": "stub", "object": "chat.completion.chunk", "created": 0, "model": "stub",
            "choices": [{"index": 0, "delta": {"role": "assistant", "content": text}, "finish_reason": None}]}


@contextmanager
def stub_server(handler: Handler) -> Iterator[str]:
    """Yield the root URL (``http://127.0.0.1:PORT``) of a server calling ``handler`` for every GET and POST."""

    class _Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:  # keep test output clean
            pass

        def do_GET(self) -> None:
            handler(self)

        def do_POST(self) -> None:
            self.body = self.rfile.read(int(self.headers.get("content-length") or 0))  # for handlers that check it
            handler(self)

    with ThreadingHTTPServer(("127.0.0.1", 0), _Handler) as server:
        server.daemon_threads = True  # a handler still sleeping must not hold up the close
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
