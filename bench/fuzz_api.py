"""Malformed requests against every endpoint; fails on any 5xx or a server dead afterwards (issue 13).

    python bench/fuzz_api.py                      # 1200 requests, seed 13, bundled index /tmp/idx_new
    python bench/fuzz_api.py --index DIR -n 2000 --seed 7

Bounded and loopback only: it starts its own server (a child process, extractive mode,
on 127.0.0.1 and a free port, a temporary data folder so feedback lands nowhere real, and a
copy of the index),
sends ``-n`` requests one after another within ``--max-seconds``, and stops it again.
The document routes get only requests that cannot start an ingest (wrong or missing
admin token, or malformed forms), so the index is only read.

Each case is one of: bad JSON (truncated, bytes that are not UTF-8, not an object, deep
nesting), wrong types, missing or unknown fields, 100k-character texts and 10 MB bodies,
NUL and control characters, lone surrogates, bools, negatives and huge values for k, junk
history and messages, wrong content types and methods. ``tests/api/test_fuzz.py`` runs a
seeded 200-request slice of the same cases against an in-process server.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

log = logging.getLogger("fuzz_api")

ADMIN_TOKEN = "fuzz-admin-token"
DEFAULT_INDEX = Path("/tmp/idx_new")
BIG_TEXT = "管" * 100_000
TEN_MB = 10 * 1024 * 1024
QUESTION = "黑石BXPE基金的管理费是多少？"

# Text values that have broken servers: control and NUL characters, bidi overrides, a JSON
# escape for a lone surrogate (spliced into the raw body, since Python cannot encode it).
NASTY_TEXTS: list[str] = [
    "", " ", "\u0000", "管理费\u0000是多少", "\x1b[31m红\x1b[0m", "\u202e反向\u202c", "\ufeff", "\r\n\t",
    "a" * 501, BIG_TEXT, "🤖" * 300, "<script>alert(1)</script>", "' OR 1=1 --", "../../etc/passwd",
    "${jndi:ldap://x}", "%s%s%n", "\\", "\"", "null", "[1]" * 200, "﷽", "\u0085\u2028\u2029",
]
LONE_SURROGATES = ["\\udfff", "\\ud800", "abc\\udc00def", "\\ud83d"]
NASTY_VALUES: list[object] = [None, True, False, 0, -1, 1.5, 10**20, -(10**20), [], {}, [None], {"a": 1}, "5", 1e308]
K_VALUES: list[object] = [True, False, -1, 0, 51, 10**9, -(10**9), 2.5, "3", None, [], {}, 1e400]


@dataclass
class Case:
    method: str
    path: str
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    files: list[tuple[str, tuple[str, bytes, str]]] | None = None
    kind: str = ""

    def describe(self) -> str:
        size = len(self.body) if self.body is not None else 0
        return f"{self.kind}: {self.method} {self.path} ({size} bytes) {(self.body or b'')[:80]!r}"


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode("utf-8")


def _with_surrogate(template: dict, key: str, rng: random.Random) -> bytes:
    """``template`` with ``key`` set to a lone surrogate escape (raw JSON: Python cannot encode one)."""
    marker = "SURROGATE-MARKER"
    raw = json.dumps({**template, key: marker}, ensure_ascii=False)
    return raw.replace(marker, rng.choice(LONE_SURROGATES)).encode("utf-8")


# ------------------------------------------------------------------ body generators per endpoint


def _ask_body(rng: random.Random) -> bytes:
    choice = rng.randrange(12)
    if choice == 0:
        return _json({})  # missing question
    if choice == 1:
        return _json({"question": rng.choice(NASTY_VALUES)})
    if choice == 2:
        return _json({"question": rng.choice(NASTY_TEXTS), "mode": "extractive"})
    if choice == 3:
        return _json({"question": QUESTION, "k": rng.choice(K_VALUES), "mode": "extractive"})
    if choice == 4:
        return _with_surrogate({"mode": "extractive"}, "question", rng)
    if choice == 5:
        history = rng.choice(
            [
                "junk", [1, 2], [{"role": "system", "content": "x"}], [{"role": "user"}],
                [{"role": "user", "content": 5}], [{"role": "assistant", "content": BIG_TEXT}],
                [{"role": "user", "content": "q"}] * 60, [[]], {"role": "user"}, [{"role": None, "content": None}],
                [{"role": "user", "content": "那它呢\u0000", "extra": 1}],
            ]
        )
        return _json({"question": QUESTION, "history": history, "mode": "extractive"})
    if choice == 6:
        return _json({"question": QUESTION, "mode": rng.choice(["gpt-4", "", "LOCAL", "openai", 5, None, "\u0000"])})
    if choice == 7:
        return _json({"questoin": QUESTION, "mode": "extractive"})  # unknown field
    if choice == 8:
        return _json({"question": QUESTION, "history": [{"role": "user", "content": "上一轮\u0000问题"}],
                      "mode": "extractive", "k": rng.randint(1, 10)})
    if choice == 9:
        return _json([QUESTION])  # not an object
    if choice == 10:
        return _json({"question": rng.choice(NASTY_TEXTS[:9]) + QUESTION, "mode": "extractive", "k": 1})
    return _with_surrogate({"question": QUESTION}, "mode", rng)


def _search_body(rng: random.Random) -> bytes:
    choice = rng.randrange(6)
    if choice == 0:
        return _json({"query": rng.choice(NASTY_TEXTS)})
    if choice == 1:
        return _json({"query": "汽车出口", "k": rng.choice(K_VALUES)})
    if choice == 2:
        return _json({"query": rng.choice(NASTY_VALUES)})
    if choice == 3:
        return _with_surrogate({}, "query", rng)
    if choice == 4:
        return _json({"q": "x"})
    return _json({"query": "汽车出口", "k": rng.randint(1, 50)})


def _chat_body(rng: random.Random) -> bytes:
    choice = rng.randrange(11)
    user = {"role": "user", "content": QUESTION}
    if choice == 0:
        return _json({"model": "rag-extractive", "messages": rng.choice(NASTY_VALUES)})
    if choice == 1:
        return _json({"model": "rag-extractive", "messages": []})
    if choice == 2:
        return _json({"model": rng.choice(["gpt-4", "", "rag-nope", 5, None, True, "rag-openai"]), "messages": [user]})
    if choice == 3:
        return _json({"model": "rag-extractive", "messages": [{"role": "assistant", "content": "x"}]})
    if choice == 4:
        content = rng.choice([None, 5, [], [{"type": "image_url"}], [{"type": "text", "text": 5}], {"x": 1},
                              [{"type": "text"}], BIG_TEXT, rng.choice(NASTY_TEXTS)])
        return _json({"model": "rag-extractive", "messages": [{"role": "user", "content": content}]})
    if choice == 5:
        return _json({"model": "rag-extractive", "messages": [{"role": rng.choice(["robot", None, 1]), "content": "x"}]})
    if choice == 6:
        return _json({"model": "rag-extractive", "messages": [user], "stream": rng.choice(NASTY_VALUES)})
    if choice == 7:
        return _json({"model": "rag-extractive", "messages": [user], "k": rng.choice(K_VALUES),
                      "stream": rng.choice([True, False])})
    if choice == 8:
        body = '{"model": "rag-extractive", "messages": [{"role": "user", "content": "SURR"}]}'
        return body.replace("SURR", rng.choice(LONE_SURROGATES)).encode()
    if choice == 9:
        junk = [{"role": rng.choice(["user", "assistant", "system", "tool"]), "content": rng.choice(NASTY_TEXTS[:12])}
                for _ in range(rng.randint(1, 8))]
        return _json({"model": "rag-extractive", "messages": [*junk, user], "temperature": "hot",
                      "stream_options": rng.choice([None, 5, {"include_usage": True}])})
    return _json({"model": "rag", "mode": rng.choice(["extractive", "nope", 5]), "messages": [user],
                  "stream_raw": rng.choice(NASTY_VALUES)})


def _feedback_body(rng: random.Random) -> bytes:
    base = {"rating": "up", "question": QUESTION, "answer": "管理费为1.25%[1]。", "citations": [{"n": 1, "file": "a.txt"}]}
    choice = rng.randrange(7)
    if choice == 0:
        return _json({**base, "rating": rng.choice(["meh", None, True, 1, ""])})
    if choice == 1:
        return _json({**base, "citations": rng.choice(NASTY_VALUES)})
    if choice == 2:
        return _json({**base, "comment": rng.choice(NASTY_TEXTS)})
    if choice == 3:
        return _with_surrogate(base, "comment", rng)
    if choice == 4:
        return _json({k: v for k, v in base.items() if k != rng.choice(list(base))})
    if choice == 5:
        return _json({**base, "citations": [{"n": rng.choice(K_VALUES), "text": BIG_TEXT}]})
    return _json({**base, "source": "fuzz", "index_version": rng.choice(["v1", None, 5, "\u0000"])})


def _raw_junk(rng: random.Random) -> bytes:
    return rng.choice(
        [
            b"", b"{", b'{"question": ', b"null", b"[]", b"true", b"\xff\xfe\x00garbage", b'{"question": "\xc3\x28"}',
            b"[" * 20_000 + b"]" * 20_000,  # deep nesting
            b'{"a":' * 5_000 + b"1" + b"}" * 5_000,
            bytes(rng.randrange(256) for _ in range(rng.randint(1, 300))),
            b'{"question": "x", "question": 5}', b"\x00" * 100, b'"just a string"', b"1e999999",
        ]
    )


# ------------------------------------------------------------------ the cases


JSON_ENDPOINTS: dict[str, Callable[[random.Random], bytes]] = {
    "/api/ask": _ask_body,
    "/api/ask/stream": _ask_body,
    "/api/search": _search_body,
    "/v1/chat/completions": _chat_body,
    "/api/feedback": _feedback_body,
}


PLAIN_GETS = ["/healthz", "/v1/models", "/docs", "/redoc", "/openapi.json", "/widget.js", "/embed", "/login"]


def _other_case(rng: random.Random) -> Case:
    admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
    wrong = {"Authorization": rng.choice(["Bearer nope", "Basic abc", "Bearer", "bearer \u00e9", "x" * 5000])}
    choice = rng.randrange(14)
    if choice == 0:
        return Case("GET", rng.choice(PLAIN_GETS), None, None, kind="get")
    if choice == 1:
        query = rng.choice(["format=xml", "format=csv", "limit=-1", "limit=abc", "limit=0", "format=json&limit=5"])
        return Case("GET", f"/api/feedback?{query}", None, None, headers=rng.choice([admin, wrong, {}]),
                    kind="feedback list")
    if choice == 2:
        return Case("GET", "/api/documents", None, None, headers=rng.choice([wrong, {}]), kind="documents no admin")
    if choice == 3:  # malformed multipart, with the admin token: refused before anything is stored
        return Case("POST", "/api/documents", rng.choice([b"", b"--x\r\n", b"not multipart"]),
                    rng.choice(["multipart/form-data", "multipart/form-data; boundary=x", "application/json"]),
                    headers=admin, kind="upload junk")
    if choice == 4:  # uploads of unsupported types (refused), with the admin token
        # Never a supported suffix: an accepted upload would start an ingest.
        name = rng.choice(["a.png", "b.exe", "noext", "", "x.txt.exe", "😀.gif", "../../etc/passwd", "x" * 300])
        files = [("files", (name, bytes(rng.randrange(256) for _ in range(50)), "application/octet-stream"))]
        return Case("POST", "/api/documents", None, None, headers=admin, files=files, kind="upload bad type")
    if choice == 5:
        return Case("POST", "/api/documents", b"", None, headers=rng.choice([wrong, {}]), kind="upload no admin",
                    files=[("files", ("a.txt", "一段文字。".encode(), "text/plain"))])
    if choice == 6:  # delete: unknown names with the admin token (404), anything without it (401)
        path = "/api/documents/" + rng.choice(["no-such-file-xyz.txt", "%2e%2e%2fetc%2fpasswd", "%00", "x" * 300])
        return Case("DELETE", path, None, None, headers=rng.choice([admin, wrong, {}]), kind="delete")
    if choice == 7:
        return Case("POST", "/api/documents/ingest", None, None, headers=rng.choice([wrong, {}]), kind="ingest no admin")
    if choice == 8:
        return Case("GET", "/api/jobs/" + rng.choice(["x", "0" * 32, "%00", "../..", "a" * 500]), None, None,
                    headers=rng.choice([admin, wrong]), kind="job")
    if choice == 9:
        return Case(rng.choice(["PUT", "PATCH", "DELETE", "GET"]), rng.choice(list(JSON_ENDPOINTS)), b"{}",
                    kind="wrong method")
    if choice == 10:
        body = rng.choice([b"token=", b"token=" + b"x" * 10_000, b"next=//evil&token=a", b"\xff\xfe", b"token=%00"])
        return Case("POST", "/login", body, rng.choice(["application/x-www-form-urlencoded", "text/plain", None]),
                    kind="login")
    if choice == 11:
        return Case("GET", "/login?next=" + rng.choice(["//evil", "https://evil", "%0d%0aSet-Cookie:x", "/ui/"]),
                    None, None, kind="login page")
    if choice == 12:
        return Case("POST", rng.choice(list(JSON_ENDPOINTS)), rng.choice(NASTY_TEXTS[:8]).encode("utf-8", "replace"),
                    rng.choice(["text/plain", "application/x-www-form-urlencoded", None, "application/json; charset=latin-1"]),
                    kind="wrong content type")
    if rng.random() < 0.5:  # the Gradio app's own API
        path = rng.choice(["/ui/gradio_api/call/_chat", "/ui/gradio_api/queue/join", "/ui/gradio_api/run/_chat"])
        return Case("POST", path, rng.choice([_raw_junk(rng), _json({"data": rng.choice(NASTY_VALUES)}),
                                              _json({"data": [rng.choice(NASTY_TEXTS), [], [], 5, "extractive"]})]),
                    kind="gradio api")
    return Case("GET", "/" + rng.choice(["api/", "v1/", "api/ask", "nothing", "ui/../api/ask", "%ff", "ui/gradio_api/info",
                                         "ui/config", "ui/gradio_api/queue/data?session_hash=%00"]), None, None,
                kind="odd path")


def cases(n: int, seed: int = 13, big_bodies: int = 3) -> list[Case]:
    """``n`` reproducible cases; ``big_bodies`` of them are 10 MB bodies (spread over the run)."""
    rng = random.Random(seed)
    # Every plain GET once, whatever the seed draws.
    out: list[Case] = [Case("GET", path, None, None, kind="get") for path in PLAIN_GETS][:n]
    for _ in range(n - len(out)):
        roll = rng.random()
        if roll < 0.65:
            path = rng.choice(list(JSON_ENDPOINTS))
            out.append(Case("POST", path, JSON_ENDPOINTS[path](rng), kind=f"json {path}"))
        elif roll < 0.80:
            out.append(Case("POST", rng.choice(list(JSON_ENDPOINTS)), _raw_junk(rng), kind="bad json"))
        else:
            out.append(_other_case(rng))
    for i in range(min(big_bodies, n)):
        body = rng.choice(
            [
                _json({"question": "管" * (TEN_MB // 3), "mode": "extractive"}),
                b'{"query": "' + b"a" * TEN_MB + b'"}',
                b"[" + b"1," * (TEN_MB // 2) + b"1]",
            ]
        )
        out[(i + 1) * n // (big_bodies + 1)] = Case("POST", rng.choice(list(JSON_ENDPOINTS)), body, kind="10 MB body")
    return out


# ------------------------------------------------------------------ running them


@dataclass
class Report:
    sent: int = 0
    statuses: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)  # 5xx and transport errors
    seconds: float = 0.0
    alive_after: bool = False

    @property
    def ok(self) -> bool:
        return not self.failures and self.alive_after


def send(client: httpx.Client, case: Case) -> int:
    # Bytes, so non-ASCII header values (latin-1 on the wire) are sent as they are.
    headers: dict[str, str | bytes] = {k: v.encode("latin-1", "replace") for k, v in case.headers.items()}
    if case.content_type and case.files is None:
        headers["Content-Type"] = case.content_type
    if case.files is not None:
        response = client.request(case.method, case.path, files=case.files, headers=headers)
    else:
        response = client.request(case.method, case.path, content=case.body, headers=headers)
    return response.status_code


def run(url: str, todo: list[Case], max_seconds: float = 600.0) -> Report:
    """Send every case (stopping at ``max_seconds``); then check the server still answers."""
    report = Report()
    started = time.monotonic()
    # A fresh connection when the server closed one; a per-request timeout bounds every case.
    with httpx.Client(base_url=url, timeout=60.0, trust_env=False) as client:
        for number, case in enumerate(todo):
            if time.monotonic() - started > max_seconds:
                log.warning("time limit reached after %d requests", report.sent)
                break
            try:
                status = send(client, case)
            except httpx.HTTPError as exc:
                previous = todo[number - 1].describe() if number else "-"
                report.failures.append(f"#{number} {type(exc).__name__}: {case.describe()} (after {previous[:120]})")
                status = -1
            report.sent += 1
            report.statuses[status] += 1
            if status >= 500:
                report.failures.append(f"#{number} HTTP {status}: {case.describe()}")
        report.seconds = time.monotonic() - started
        try:
            health = client.get("/healthz")
            answer = client.post("/api/ask", json={"question": QUESTION, "mode": "extractive"})
            report.alive_after = health.status_code == 200 and answer.status_code == 200 and "1.25%" in answer.text
        except httpx.HTTPError:
            report.alive_after = False
    return report


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def own_server(index: Path, startup_timeout: float = 300.0) -> Iterator[str]:
    """``rag serve`` in a child process on 127.0.0.1 (extractive, temporary data folder)."""
    port = _free_port()
    data = Path(tempfile.mkdtemp(prefix="fuzz-api-data-"))
    # A copy: whatever a request manages to do, the index given stays as it was.
    shutil.copytree(index, data / "index")
    index = data / "index"
    env = {**os.environ, "RAG_MODE": "extractive", "RAG_DATA_DIR": str(data), "RAG_ADMIN_TOKEN": ADMIN_TOKEN,
           "RAG_API_TOKEN": "", "HF_HUB_OFFLINE": "1"}
    code = ("import logging, sys; from pathlib import Path; logging.basicConfig(level=logging.WARNING);"
            "from rag.server import serve; serve('127.0.0.1', int(sys.argv[1]), Path(sys.argv[2]))")
    server_log = data / "server.log"
    with open(server_log, "wb") as out:
        child = subprocess.Popen([sys.executable, "-c", code, str(port), str(index)], env=env, stdout=out,
                                 stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup_timeout
        while True:
            if child.poll() is not None:
                raise SystemExit(f"server exited with code {child.returncode}; log: {server_log}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"server not ready after {startup_timeout:.0f} s; log: {server_log}")
            time.sleep(0.5)
        yield url
        if child.poll() is not None:
            raise SystemExit(f"server died during the run (code {child.returncode}); log: {server_log}")
    finally:
        child.terminate()  # only the process this script started
        try:
            child.wait(timeout=15)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(5)
        shutil.rmtree(data / "index", ignore_errors=True)
        log.info("server log: %s", server_log)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX, help="index folder (read only)")
    parser.add_argument("-n", type=int, default=1200, help="requests to send")
    parser.add_argument("--seed", type=int, default=13)
    parser.add_argument("--big-bodies", type=int, default=3, help="how many of them are 10 MB bodies")
    parser.add_argument("--max-seconds", type=float, default=900.0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not (args.index / "CURRENT").exists():
        raise SystemExit(f"索引不存在 (index not found): {args.index}")
    todo = cases(args.n, args.seed, args.big_bodies)
    with own_server(args.index) as url:
        report = run(url, todo, args.max_seconds)
    print(f"sent {report.sent} requests in {report.seconds:.1f} s; statuses: {dict(sorted(report.statuses.items()))}")
    print(f"server alive afterwards: {report.alive_after}")
    for failure in report.failures[:50]:
        print("FAIL", failure)
    print(f"{report.sent - len(report.failures)} passed, {len(report.failures)} failed")
    return 0 if report.ok else 1


if __name__ == "__main__":
    sys.exit(main())
