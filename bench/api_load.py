"""Load test of the HTTP API: concurrent clients on /api/search and /api/ask.

    .venv/bin/python bench/api_load.py [--url http://127.0.0.1:7860] [--index DIR]
                                       [--clients 8] [--requests 64] [--max-seconds 120]
                                       [--mode extractive|local]

``--mode local`` asks the dev questions whose key facts are short strings and checks
that answers never mix: an answer that echoes another question, or holds a key fact of
another question in flight and none of its own, counts as mixed (printed per endpoint).

Without --url it starts the server itself (`rag.server.serve`, API only, in a child
process so the load generator does not share its GIL) on a free 127.0.0.1 port and
stops it afterwards. Questions come from eval/datasets/dev.jsonl. Every run is
bounded by --requests per endpoint and --max-seconds per endpoint, and only loopback
addresses are accepted as targets.

Prints, per endpoint: requests completed, errors, p50/p95/max latency and throughput.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import httpx

ROOT = Path(__file__).resolve().parent.parent
DATASET = ROOT / "eval" / "datasets" / "dev.jsonl"
log = logging.getLogger("api_load")


@dataclass
class Run:
    endpoint: str
    latencies: list[float] = field(default_factory=list)  # seconds, successful requests only
    errors: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    mixed: list[str] = field(default_factory=list)  # questions whose answer belongs to another

    def summary(self) -> dict[str, float | int | str]:
        ordered = sorted(self.latencies)

        def pct(p: float) -> float:
            if not ordered:
                return float("nan")
            return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] * 1000

        return {
            "endpoint": self.endpoint,
            "ok": len(ordered),
            "errors": sum(self.errors.values()),
            "p50_ms": round(pct(50), 1),
            "p95_ms": round(pct(95), 1),
            "max_ms": round(ordered[-1] * 1000, 1) if ordered else float("nan"),
            "mean_ms": round(statistics.fmean(ordered) * 1000, 1) if ordered else float("nan"),
            "req_per_s": round(len(ordered) / self.seconds, 2) if self.seconds else 0.0,
            "wall_s": round(self.seconds, 1),
            "mixed": len(self.mixed),
        }


def dataset() -> list[dict]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]


def questions() -> list[str]:
    return [row["question"] for row in dataset() if row.get("question")]


def key_facts() -> dict[str, list[str]]:
    """Questions with short key facts, for the mixing check (each fact unique to its question)."""
    facts = {
        row["question"]: row["must_include"] for row in dataset()
        if row.get("must_include") and not row.get("history") and all(len(f) <= 12 for f in row["must_include"])
    }
    counts: dict[str, int] = {}
    for items in facts.values():
        for fact in items:
            counts[fact] = counts.get(fact, 0) + 1
    return {q: items for q, items in facts.items() if all(counts[f] == 1 for f in items)}


def mixed(body: dict, answer: dict, facts: dict[str, list[str]], in_flight: set[str]) -> bool:
    """The answer belongs to another question: it echoes another one, or holds another
    in-flight question's key fact and none of its own."""
    question = body.get("question")
    if question is None:
        return False
    if answer.get("question") != question:
        return True
    text = answer.get("answer") or ""
    own = facts.get(question, [])
    if any(f in text for f in own):
        return False
    return any(f in text for other in in_flight - {question} for f in facts.get(other, []) if f not in own)


def require_loopback(url: str) -> None:
    """This benchmark only ever targets this machine."""
    host = urlparse(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to load-test {host!r}: only 127.0.0.1/localhost/::1 targets are allowed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def server(index: Path | None, startup_timeout: float) -> Iterator[str]:
    """Start the API in a child process and wait for /healthz to say ok."""
    port = free_port()
    code = (
        "import logging, sys; from pathlib import Path; logging.basicConfig(level=logging.WARNING);"
        "from rag.server import serve; serve('127.0.0.1', int(sys.argv[1]), Path(sys.argv[2]) if sys.argv[2] else None)"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    url = f"http://127.0.0.1:{port}"
    # The server's access log would drown the results: it goes to a file, named on failure.
    with tempfile.NamedTemporaryFile("w+", prefix="api_load-server-", suffix=".log", delete=False) as server_log:
        child = subprocess.Popen(
            [sys.executable, "-c", code, str(port), str(index or "")],
            env=env,
            stdout=server_log,
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + startup_timeout
            while True:
                if child.poll() is not None:
                    raise SystemExit(f"server exited with code {child.returncode}; its log: {server_log.name}")
                try:
                    if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                        break
                except httpx.TransportError:
                    pass
                if time.monotonic() > deadline:
                    raise SystemExit(f"server not ready after {startup_timeout:.0f} s; its log: {server_log.name}")
                time.sleep(0.5)
            log.info("server ready at %s (pid %d)", url, child.pid)
            yield url
        finally:
            child.terminate()  # only the process this script started
            try:
                child.wait(timeout=15)
            except subprocess.TimeoutExpired:
                child.kill()


async def drive(
    url: str, endpoint: str, bodies: list[dict], clients: int, max_seconds: float, token: str,
    facts: dict[str, list[str]] | None = None,
) -> Run:
    """``clients`` workers share one queue of requests; stop at its end or the deadline."""
    run = Run(endpoint)
    in_flight: set[str] = set()
    queue: asyncio.Queue[dict] = asyncio.Queue()
    for body in bodies:
        queue.put_nowait(body)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    deadline = time.monotonic() + max_seconds

    async def worker(client: httpx.AsyncClient) -> None:
        while time.monotonic() < deadline:
            try:
                body = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            started = time.perf_counter()
            asked = body.get("question", "")
            in_flight.add(asked)
            try:
                response = await client.post(endpoint, json=body, headers=headers)
                if response.status_code == 200:
                    run.latencies.append(time.perf_counter() - started)
                    if facts is not None and mixed(body, response.json(), facts, in_flight | {asked}):
                        run.mixed.append(asked)
                else:
                    key = f"HTTP {response.status_code}"
                    run.errors[key] = run.errors.get(key, 0) + 1
            except httpx.HTTPError as exc:
                key = type(exc).__name__
                run.errors[key] = run.errors.get(key, 0) + 1
            finally:
                in_flight.discard(asked)

    limits = httpx.Limits(max_connections=clients, max_keepalive_connections=clients)
    async with httpx.AsyncClient(base_url=url, timeout=max_seconds, limits=limits) as client:
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(clients)))
        run.seconds = time.perf_counter() - began
    return run


def bodies_for(endpoint: str, qs: list[str], n: int, mode: str = "extractive") -> list[dict]:
    picked = [qs[i % len(qs)] for i in range(n)]
    if endpoint == "/api/search":
        return [{"query": q} for q in picked]
    return [{"question": q, "mode": mode} for q in picked]


def report(runs: list[Run], clients: int) -> None:
    columns = ["endpoint", "ok", "errors", "p50_ms", "p95_ms", "max_ms", "mean_ms", "req_per_s", "wall_s", "mixed"]
    rows = [run.summary() for run in runs]
    widths = {c: max(len(c), *(len(str(r[c])) for r in rows)) for c in columns}
    lines = [f"{clients} concurrent clients", "  ".join(c.ljust(widths[c]) for c in columns)]
    lines += ["  ".join(str(r[c]).ljust(widths[c]) for c in columns) for r in rows]
    for run in runs:
        if run.errors:
            lines.append(f"{run.endpoint} errors: {run.errors}")
        if run.mixed:
            lines.append(f"{run.endpoint} mixed answers: {run.mixed}")
    sys.stdout.write("\n".join(lines) + "\n")  # the benchmark's result, not a log line


async def main_async(args: argparse.Namespace, url: str) -> list[Run]:
    facts = key_facts() if args.mode != "extractive" else None
    qs = list(facts) if facts is not None else questions()
    runs = []
    for endpoint in args.endpoints:
        # One warm-up request so lazy loading does not count as latency.
        await drive(url, endpoint, bodies_for(endpoint, qs, 1, args.mode), 1, args.max_seconds, args.token)
        bodies = bodies_for(endpoint, qs, args.requests, args.mode)
        log.info("%s: %d requests, %d clients, mode %s", endpoint, len(bodies), args.clients, args.mode)
        runs.append(await drive(url, endpoint, bodies, args.clients, args.max_seconds, args.token, facts))
    return runs


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--url", help="running server (loopback only); default: start one")
    ap.add_argument("--index", type=Path, default=None, help="index folder for the started server")
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--requests", type=int, default=64, help="requests per endpoint")
    ap.add_argument("--max-seconds", type=float, default=120.0, help="time cap per endpoint")
    ap.add_argument("--endpoints", nargs="+", default=["/api/search", "/api/ask"])
    ap.add_argument("--token", default=os.environ.get("RAG_API_TOKEN", ""))
    ap.add_argument("--startup-timeout", type=float, default=300.0)
    ap.add_argument("--mode", choices=["extractive", "local"], default="extractive", help="answer mode of /api/ask")
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)
    if not 1 <= args.clients <= 64 or not 1 <= args.requests <= 10_000:
        raise SystemExit("--clients must be 1-64 and --requests 1-10000")

    if args.url:
        require_loopback(args.url)
        runs = asyncio.run(main_async(args, args.url.rstrip("/")))
    else:
        with server(args.index, args.startup_timeout) as url:
            runs = asyncio.run(main_async(args, url))
    report(runs, args.clients)


if __name__ == "__main__":
    main()
