"""The real `rag` console script, run as a subprocess against the session index."""

from __future__ import annotations

import json
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

RAG = Path(sys.executable).parent / "rag"
QUESTION = "黑石BXPE基金收取多少管理费？"


@pytest.fixture(scope="module")
def cli_env(tmp_path_factory) -> dict[str, str]:
    runtime = tmp_path_factory.mktemp("cli-runtime")
    env = {k: v for k, v in os.environ.items() if not k.startswith("RAG_")}
    env.update(
        RAG_INDEX_DIR=str(runtime / "default-index"),  # must not be used: every call passes --index
        RAG_DATA_DIR=str(runtime / "data"),
        RAG_MODE="extractive",
        COLUMNS="200",  # rich wraps at 80 columns when not on a terminal
        NO_COLOR="1",
    )
    return env


def run_rag(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 300) -> subprocess.CompletedProcess:
    # cwd is a temp folder so a developer's .env in the repo does not leak into the test.
    return subprocess.run([str(RAG), *args], capture_output=True, text=True, env=env, cwd=cwd, timeout=timeout)


def test_console_script_exists():
    assert RAG.is_file() and os.access(RAG, os.X_OK)


def test_search_json(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["search", "黑石BXPE基金管理费", "--json", "--k", "3", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object on stdout
    assert set(data) == {"query", "results"}
    assert data["query"] == "黑石BXPE基金管理费"
    assert len(data["results"]) == 3
    for item in data["results"]:
        assert set(item) == {"text", "file", "title", "section", "score", "chunk_id"}
        assert item["text"] and item["file"].endswith(".txt") and re.fullmatch(r"[0-9a-f]{16}", item["chunk_id"])
    top = data["results"][0]
    assert top["file"].startswith("000") and "1.25%" in top["text"]
    scores = [item["score"] for item in data["results"]]
    assert scores == sorted(scores, reverse=True)
    assert not (Path(cli_env["RAG_INDEX_DIR"])).exists()


def test_ask_json_extractive(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["ask", QUESTION, "--json", "--mode", "extractive", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert {"question", "answer", "refused", "mode", "citations", "timings"} <= set(data) <= {
        "question", "answer", "refused", "mode", "citations", "timings", "notice"}
    assert data["question"] == QUESTION
    assert data["mode"] == "extractive"
    assert data["refused"] is False
    assert "1.25%" in data["answer"]
    assert data["citations"]
    for citation in data["citations"]:
        assert f"[{citation['n']}]" in data["answer"]
        assert citation["file"].endswith(".txt")
    assert any(c["file"].startswith("000") for c in data["citations"])
    numbers = [c["n"] for c in data["citations"]]
    assert numbers == sorted(set(numbers))
    # every [n] in the answer has a citation
    assert {int(n) for n in re.findall(r"\[(\d+)\]", data["answer"])} <= set(numbers)
    assert isinstance(data["timings"], dict) and data["timings"]["total_ms"] >= 0


def test_ask_off_topic_is_refused(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["ask", "zzqqxx", "--json", "--mode", "extractive", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data["refused"] is True
    assert data["citations"] == []


def test_empty_question_fails_clearly(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["ask", "   ", "--json", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "error" in proc.stderr and "question is empty" in proc.stderr
    assert proc.stdout.strip() == ""


def test_missing_index_fails_clearly(cli_env, tmp_path: Path):
    proc = run_rag(["search", "管理费", "--index", str(tmp_path / "nothing-here")], cli_env, tmp_path)
    assert proc.returncode != 0
    assert "Traceback" not in proc.stderr
    assert "rag ingest" in proc.stderr


def test_ingest_prints_summary(cli_env, tmp_path: Path):
    corpus = tmp_path / "docs"
    corpus.mkdir()
    (corpus / "note.txt").write_text(
        "崂山区绿色算力\n崂山区将建设一座采用海水冷却技术的绿色算力设施，规划机柜三千个，预计二〇二六年投入使用。"
        "这一设施将与城市云脑平台打通，为区内人工智能企业提供低成本算力，进一步提升城市治理的智能化水平。"
        "项目建成后，每年可节约用电约两千万千瓦时。\n"
        "相关负责人表示，算力设施还将向高校和科研院所开放，支持人工智能辅助科研，推动产学研协同创新。\n",
        encoding="utf-8",
    )
    (corpus / "empty.txt").write_bytes(b"")
    index = tmp_path / "index"
    proc = run_rag(["ingest", str(corpus), "--index", str(index)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    summary = re.search(
        r"files: (\d+)\s+articles: (\d+)\s+chunks: (\d+)\s+chunks embedded: (\d+)\s+seconds: (\d+\.\d)", proc.stderr)
    assert summary, proc.stderr
    files, articles, chunks, embedded = (int(summary.group(i)) for i in range(1, 5))
    assert (files, articles) == (1, 1)
    assert chunks >= 1 and embedded == chunks
    assert "skipped" in proc.stderr and "empty.txt" in proc.stderr
    assert (index / "CURRENT").is_file()

    again = run_rag(["ingest", str(corpus), "--index", str(index)], cli_env, tmp_path)
    assert again.returncode == 0, again.stderr
    assert re.search(r"chunks embedded: 0\b", again.stderr), again.stderr


def test_ingest_missing_folder_fails_clearly(cli_env, tmp_path: Path):
    proc = run_rag(["ingest", str(tmp_path / "nope"), "--index", str(tmp_path / "index")], cli_env, tmp_path)
    assert proc.returncode != 0
    assert "no such file or folder" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_ask_prints_the_answer_and_its_sources(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["ask", QUESTION, "--mode", "extractive", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    answer, _, sources = proc.stdout.partition("来源")
    assert "1.25%" in answer and "[1]" in answer
    assert re.search(r"^\[1\] .+ \(000.*\.txt\)$", sources, re.MULTILINE), proc.stdout
    assert re.search(r"mode extractive · retrieve [\d.]+ ms · total [\d.]+ ms", proc.stderr)


def test_search_prints_ranked_passages(index_dir: Path, cli_env, tmp_path: Path):
    proc = run_rag(["search", "黑石BXPE基金管理费", "--k", "2", "--index", str(index_dir)], cli_env, tmp_path)
    assert proc.returncode == 0, proc.stderr
    ranks = re.findall(r"^(\d)\. .+ · (\S+\.txt) · score (\d\.\d{4})$", proc.stdout, re.MULTILINE)
    assert [rank for rank, _, _ in ranks] == ["1", "2"], proc.stdout
    assert ranks[0][1].startswith("000") and "1.25%" in proc.stdout
    # bm25s sets its own logger to DEBUG when imported; without -v nothing below INFO shows.
    assert "DEBUG" not in proc.stderr and "Building index from" not in proc.stderr, proc.stderr


def test_chat_carries_the_conversation(index_dir: Path, cli_env, tmp_path: Path):
    turns = "黑石BXPE基金是什么？\n它的管理费是多少？\n\n"
    proc = subprocess.run(
        [str(RAG), "chat", "--mode", "extractive", "--index", str(index_dir)],
        input=turns, capture_output=True, text=True, env=cli_env, cwd=tmp_path, timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count("来源") == 2, proc.stdout
    second = proc.stdout.split("来源")[1]
    assert "管理费" in second


HEAVY = ("torch", "sentence_transformers", "transformers", "gradio", "langchain_core", "faiss", "bm25s", "jieba", "numpy")


def test_the_cli_module_imports_no_engine(cli_env, tmp_path: Path):
    code = f"import json, sys, rag.cli; print(json.dumps([m for m in {HEAVY!r} if m in sys.modules]))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=cli_env, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == []


def test_help_and_argument_errors_answer_at_once(index_dir: Path, cli_env, tmp_path: Path):
    # Measured against a bare interpreter, so a loaded test machine does not make it flaky;
    # loading the models (what `rag ask ""` used to do first) takes 20-30 s.
    started = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter = time.monotonic() - started
    for args, code in (
        (["--help"], 0),
        (["ask", "   ", "--index", str(index_dir)], 2),
        (["ask", QUESTION, "--mode", "openai", "--index", str(index_dir)], 2),  # no RAG_OPENAI_BASE_URL
        (["ask", QUESTION, "--k", "many"], 2),  # typer's own argument error
    ):
        started = time.monotonic()
        proc = run_rag(args, cli_env, tmp_path, timeout=60)
        elapsed = time.monotonic() - started
        assert proc.returncode == code, (args, proc.stderr)
        assert "Traceback" not in proc.stderr
        assert elapsed < interpreter + 4, (args, elapsed)


def test_an_unconfigured_mode_is_refused_before_loading(cli_env, tmp_path: Path):
    proc = run_rag(["ask", QUESTION, "--mode", "openai", "--index", str(tmp_path / "none")], cli_env, tmp_path, 60)
    assert proc.returncode == 2
    assert "RAG_OPENAI_BASE_URL" in proc.stderr and "rag ingest" not in proc.stderr


@pytest.mark.parametrize("command", [["serve"], ["ask", QUESTION], ["search", "管理费"]])
def test_a_misformatted_setting_is_one_clear_line(cli_env, tmp_path: Path, command: list[str]):
    proc = run_rag(command, {**cli_env, "RAG_TOP_K": "abc"}, tmp_path, timeout=60)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stdout == ""
    assert proc.stderr.strip().splitlines() == ["error: 设置 RAG_TOP_K 无效：需要整数 (got 'abc')"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.slow
@pytest.mark.parametrize(
    "origins",
    ["http://intranet.example, http://127.0.0.1:8899", '["http://127.0.0.1:8899"]'],
)
def test_serve_takes_cors_origins_as_a_comma_list_or_json(cli_env, tmp_path: Path, origins: str):
    """`rag serve` with RAG_CORS_ORIGINS as the README writes it: the server runs and allows the origin."""
    port = _free_port()
    # A missing index: the server starts and reports it on /healthz; no model is loaded.
    args = [str(RAG), "serve", "--host", "127.0.0.1", "--port", str(port), "--index", str(tmp_path / "none")]
    server = subprocess.Popen(
        args, env={**cli_env, "RAG_CORS_ORIGINS": origins}, cwd=tmp_path,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + 240
        while True:
            assert server.poll() is None, server.communicate()[1]
            try:
                preflight = httpx.options(
                    f"http://127.0.0.1:{port}/api/ask",
                    headers={"Origin": "http://127.0.0.1:8899", "Access-Control-Request-Method": "POST"},
                    timeout=5,
                )
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "rag serve did not start"
                time.sleep(0.5)
        assert preflight.status_code == 200, preflight.text
        assert preflight.headers["access-control-allow-origin"] == "http://127.0.0.1:8899"
        other = httpx.options(
            f"http://127.0.0.1:{port}/api/ask",
            headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
            timeout=5,
        )
        assert "access-control-allow-origin" not in other.headers
    finally:
        server.terminate()
        server.wait(timeout=30)
