"""Helpers for the UI tests: headless Chromium, a host page on another origin, artifacts."""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"

XSS_TITLE = "星海科技发布新型储能电池<script>window.__xss_title=1</script>"
XSS_IMG = '<img src=x onerror="window.__xss=1">'
XSS_SCRIPT = "<script>window.__xss=2</script>"
XSS_DOCS = [
    {
        "title": XSS_TITLE,
        "text": f"星海科技公司周一宣布，其新型储能电池的能量密度达到每公斤420瓦时{XSS_IMG}。"
        f"该公司表示{XSS_SCRIPT}新电池将于明年在苏州工厂量产。公司董事长李明远称，这款电池主要面向家庭储能市场。",
    },
    {
        "title": "青川县茶叶产业",
        "text": "青川县今年春茶产量达到1200吨，同比增长15%。当地政府计划建设茶叶加工园区，带动三千户茶农增收。",
    },
]
XSS_QUESTION = "星海科技新型储能电池的能量密度是多少？"


def write_xss_corpus(folder: Path) -> Path:
    """A tiny corpus whose article title and body carry script and event-handler markup."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "news.jsonl"
    path.write_text("\n".join(json.dumps(d, ensure_ascii=False) for d in XSS_DOCS), encoding="utf-8")
    return path


def chrome():
    """A fresh headless Chromium (own profile, no background traffic)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.mkdtemp(prefix="rag-chrome-")
    for arg in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1400,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(60)
    driver._rag_profile = profile  # removed with the driver
    return driver


def close(driver) -> None:
    driver.quit()
    shutil.rmtree(getattr(driver, "_rag_profile", ""), ignore_errors=True)


def screenshot(driver, name: str) -> Path:
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / name
    driver.save_screenshot(str(path))
    return path


class _QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


class _StubStreamHandler(_QuietHandler):
    """Also answers ``POST /api/ask/stream`` with the server-sent events in ``stream.sse``.

    With a ``stream.delay`` file (seconds) the frames are sent one by one that far apart,
    and a client that hangs up midway (the widget's stop) leaves a ``stream.aborted`` file.
    """

    def do_OPTIONS(self) -> None:  # CORS preflight: the stub may be another origin than the page
        self.send_response(204)
        self._cors()
        self.end_headers()

    def _cors(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Access-Control-Allow-Headers", "Authorization, Content-Type")
        self.send_header("Access-Control-Allow-Methods", "GET, POST, OPTIONS")

    def do_POST(self) -> None:
        import time

        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path != "/api/ask/stream":
            self.send_error(404)
            return
        folder = Path(self.directory)
        body = (folder / "stream.sse").read_bytes()
        delay_file = folder / "stream.delay"
        delay = float(delay_file.read_text()) if delay_file.exists() else 0.0
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self._cors()
        if not delay:
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
            return
        self.send_header("Connection", "close")  # the body ends when the connection does
        self.end_headers()
        self.close_connection = True
        try:
            for frame in body.split(b"\n\n"):
                if frame.strip():
                    self.wfile.write(frame + b"\n\n")
                    self.wfile.flush()
                    time.sleep(delay)
        except (BrokenPipeError, ConnectionResetError):
            (folder / "stream.aborted").write_text("1")


@contextmanager
def static_site(folder: Path, stub_stream: bool = False) -> Iterator[str]:
    """Serve ``folder`` with http.server on a free 127.0.0.1 port (a different origin).

    ``stub_stream``: also play ``folder/stream.sse`` as the answer stream, so the widget
    can be tested on an exact answer without a service.
    """
    handler = functools.partial(_StubStreamHandler if stub_stream else _QuietHandler, directory=str(folder))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


HOST_PAGE = """<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><title>Host page</title>
<style>
  /* Aggressive host styles: the widget must look the same despite them. */
  * {{ font-family: serif !important; color: #c00; }}
  button {{ background: green; border: 5px solid black; }}
  div {{ margin: 10px; padding: 10px; }}
</style></head>
<body>
  <h1 id="host-title">合作伙伴网站</h1>
  <p id="host-text">这是一个嵌入了知识库助手的普通网页。</p>
  <script src="{api}/widget.js" data-title="知识库助手" data-mode="extractive"{extra}></script>
</body></html>
"""


def write_host_page(folder: Path, api: str, extra: str = "", name: str = "index.html") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HOST_PAGE.format(api=api, extra=extra), encoding="utf-8")
    return path
