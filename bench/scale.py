"""Scale benchmark (issue 14 §3): the bundled corpus plus N CRUD-RAG news articles as distractors.

    .venv/bin/python bench/scale.py --n 0 5000 [20000 all] [--work /tmp/rag-scale]
                                    [--news ../shared/corpora/crud-rag-news-2023.jsonl.xz]
                                    [--out RESULTS.json] [--chart docs/scale.png]

Not run in CI. For each N the first N articles of the ``.xz`` are read in place with
``lzma`` and written as JSONL shards (1,000 articles each) under ``--work`` (never into the
repository); ``data/corpus`` plus those shards are ingested from scratch into
``--work/index-N`` by a child process (``rag.ingest.pipeline.ingest``, the CLI's code),
which reports its own peak RSS (``VmHWM``). An index already complete for N is
reused (``--reingest`` builds it again). Then, in this process, over that index:

- ingest time, chunks embedded per second, peak RSS, index size on disk;
- hybrid search p50/p95 over the dev-set questions (``RagService.search``);
- ``/api/ask`` extractive p50/p95 (FastAPI's app in-process, through its test client);
- dev-set recall@5 / MRR@10 for hybrid, dense and BM25 (``rag eval retrieval``'s function);
- the dense index's kind, and the configured approximate index (``RAG_FAISS_FACTORY``)
  built over the same vectors: its recall@10 against exact search and both latencies.

Results are printed as a Markdown table and merged into ``--out`` (JSON, by N);
``--chart`` draws latency and recall against corpus size from that file.
"""

from __future__ import annotations

import argparse
import json
import logging
import lzma
import os
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
NEWS = ROOT.parent / "shared" / "corpora" / "crud-rag-news-2023.jsonl.xz"
DEV = ROOT / "eval" / "datasets" / "dev.jsonl"
SHARD = 1000  # articles per JSONL shard
log = logging.getLogger("scale")


# ------------------------------------------------------------------ corpus
def write_shards(news: Path, n: int | None, folder: Path) -> int:
    """The first ``n`` articles (all when None) as JSONL shards in ``folder``; returns how many."""
    folder.mkdir(parents=True, exist_ok=True)
    done = folder / ".complete"  # dot-named: the ingest does not see it
    if done.exists():
        return int(done.read_text())
    count, shard, handle = 0, -1, None
    with lzma.open(news, "rt", encoding="utf-8") as source:
        for line in source:
            if n is not None and count >= n:
                break
            if not line.strip():
                continue
            if count // SHARD != shard:
                if handle:
                    handle.close()
                shard = count // SHARD
                handle = open(folder / f"news-{shard:03d}.jsonl", "w", encoding="utf-8")
            handle.write(line if line.endswith("\n") else line + "\n")
            count += 1
    if handle:
        handle.close()
    done.write_text(str(count))
    return count


# ------------------------------------------------------------------ ingest in a child
def make_embedder() -> Any:
    """The configured embedder; the hash embedder with SCALE_FAKE_EMBEDDER=1 (a smoke run of this script)."""
    from rag.config import get_settings

    if os.environ.get("SCALE_FAKE_EMBEDDER") == "1":
        from rag.embed.fake import HashEmbedder

        return HashEmbedder()
    from rag.embed.factory import embedder_from_settings

    return embedder_from_settings(get_settings())


def child_ingest(paths: list[str], index_dir: str, report_file: str) -> None:
    """Runs in the child process: one ingest, its report written as JSON."""
    from rag.config import get_settings
    from rag.ingest.pipeline import ingest

    logging.basicConfig(level=logging.WARNING)
    report = ingest([Path(p) for p in paths], Path(index_dir), embedder=make_embedder(), settings=get_settings(),
                    progress=True)
    Path(report_file).write_text(json.dumps({
        "files": report.files, "articles": report.articles, "chunks": report.chunks,
        "chunks_embedded": report.chunks_embedded, "chunks_resumed": report.chunks_resumed,
        "seconds": report.seconds, "errors": len(report.errors), "peak_rss_mb": _peak_rss_mb(),
        "peak_worker_rss_mb": _peak_worker_rss_mb(),
    }), encoding="utf-8")


def _peak_rss_mb() -> float:
    """This process's peak resident memory since exec (VmHWM; the rusage of a child would also
    count the forked copy of a big parent)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _peak_worker_rss_mb() -> float:
    """The largest peak resident memory of the ingest's finished worker processes (the
    token-cutting workers of rag.ingest.token_cut; 0 when none ran)."""
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024


def run_ingest(paths: list[Path], index_dir: Path) -> dict[str, Any]:
    report_file = index_dir.parent / f"{index_dir.name}.report.json"
    report_file.unlink(missing_ok=True)
    began = time.perf_counter()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "_ingest", str(index_dir), str(report_file), *map(str, paths)],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    if proc.wait() != 0:
        raise SystemExit(f"ingest failed (exit {proc.returncode})")
    result = json.loads(report_file.read_text(encoding="utf-8"))
    result["wall_seconds"] = time.perf_counter() - began
    return result


# ------------------------------------------------------------------ measuring
def _pct(values: list[float], q: float) -> float:
    from rag.evaluation.metrics.latency import percentile

    return float(percentile(values, q) or 0.0)


def disk_mb(folder: Path) -> float:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) / 2**20


def measure(index_dir: Path, questions: list[str]) -> dict[str, Any]:
    import numpy as np
    from fastapi.testclient import TestClient

    from rag.api.app import create_app
    from rag.config import get_settings
    from rag.evaluation.pipeline import retrieval_benchmark
    from rag.index.dense_index import build_index, describe, recall_against_exact, spec_from_settings
    from rag.index.store import current_version_dir
    from rag.service import RagService

    settings = get_settings().model_copy(update={"mode": "extractive"})
    embedder = make_embedder()
    began = time.perf_counter()
    service = RagService(settings, index_dir, embedder=embedder).warm_up()
    out: dict[str, Any] = {"load_seconds": time.perf_counter() - began}
    index = service.snapshot().index
    out["chunks"] = len(index.chunks)
    out["index_mb"] = disk_mb(current_version_dir(index_dir))
    out["dense_index"] = describe(index.faiss_index)

    for q in questions[:3]:
        service.search(q, k=5)  # warm caches
    latencies = []
    for q in questions:
        t = time.perf_counter()
        service.search(q, k=5)
        latencies.append((time.perf_counter() - t) * 1000)
    out["search_p50_ms"], out["search_p95_ms"] = _pct(latencies, 50), _pct(latencies, 95)

    client = TestClient(create_app(settings, service=service))
    logging.getLogger("httpx").setLevel(logging.WARNING)
    asks = []
    for q in questions:
        t = time.perf_counter()
        response = client.post("/api/ask", json={"question": q, "mode": "extractive"})
        asks.append((time.perf_counter() - t) * 1000)
        response.raise_for_status()
    out["ask_p50_ms"], out["ask_p95_ms"] = _pct(asks, 50), _pct(asks, 95)

    table = retrieval_benchmark(service, DEV)
    for method, row in table.items():
        out[f"{method}_recall@5"], out[f"{method}_mrr@10"] = row["recall@5"], row["mrr@10"]

    # The approximate index the threshold would switch to, over these same vectors.
    spec = spec_from_settings(settings)
    vectors = index.vectors()
    queries = np.stack([embedder.embed_query(q) for q in questions])
    t = time.perf_counter()
    approx = build_index([vectors], len(vectors), vectors.shape[1], replace(spec, exact_max=0))
    out["approx_factory"] = spec.factory
    out["approx_build_seconds"] = time.perf_counter() - t
    out["approx_recall@10"] = recall_against_exact(approx, vectors, queries, k=10)
    exact = build_index([vectors], len(vectors), vectors.shape[1], replace(spec, factory="Flat"))
    for name, built in (("exact", exact), ("approx", approx)):
        times = []
        for row in queries:
            t = time.perf_counter()
            built.search(row.reshape(1, -1), 10)
            times.append((time.perf_counter() - t) * 1000)
        out[f"dense_{name}_p50_ms"] = _pct(times, 50)
    return out


# ------------------------------------------------------------------ output
COLUMNS = [
    ("N", "news"), ("chunks", "chunks"), ("ingest", "ingest_min"), ("chunks/s", "chunks_per_s"),
    ("peak RSS MB", "peak_rss_mb"), ("index MB", "index_mb"), ("search p50/p95 ms", "search"),
    ("/api/ask p50 ms", "ask_p50_ms"), ("hybrid R@5 / MRR@10", "hybrid"), ("dense R@5", "dense_recall@5"),
    ("dense index", "dense_index"), ("approx recall@10 vs exact", "approx"),
]


def row_cells(r: dict[str, Any]) -> list[str]:
    def f(key: str, fmt: str = "{:.1f}") -> str:
        value = r.get(key)
        return "–" if value is None else fmt.format(value)

    cells = {
        "news": f"{r['news']:,}",
        "chunks": f"{r['chunks']:,}",
        "ingest_min": f"{r['ingest']['wall_seconds'] / 60:.1f} min" if r.get("ingest") else "reused",
        "chunks_per_s": f"{r['ingest']['chunks_embedded'] / r['ingest']['seconds']:.1f}" if r.get("ingest") else "–",
        "peak_rss_mb": f"{r['ingest']['peak_rss_mb']:.0f}" if r.get("ingest") else "–",
        "index_mb": f("index_mb", "{:.0f}"),
        "search": f"{r['search_p50_ms']:.0f} / {r['search_p95_ms']:.0f}",
        "ask_p50_ms": f("ask_p50_ms", "{:.0f}"),
        "hybrid": f"{r['hybrid_recall@5']:.3f} / {r['hybrid_mrr@10']:.3f}",
        "dense_recall@5": f("dense_recall@5", "{:.3f}"),
        "dense_index": r.get("dense_index", "–"),
        "approx": f"{r['approx_factory']} {r['approx_recall@10']:.3f} ({r['dense_exact_p50_ms']:.1f} → "
                  f"{r['dense_approx_p50_ms']:.1f} ms)",
    }
    return [cells[key] for _, key in COLUMNS]


def print_table(results: dict[str, dict[str, Any]]) -> None:
    print("| " + " | ".join(title for title, _ in COLUMNS) + " |")
    print("|" + "---|" * len(COLUMNS))
    for key in sorted(results, key=lambda k: results[k]["news"]):
        print("| " + " | ".join(row_cells(results[key])) + " |")


def draw_chart(results: dict[str, dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = sorted(results.values(), key=lambda r: r["chunks"])
    chunks = [r["chunks"] for r in rows]
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    left.plot(chunks, [r["search_p50_ms"] for r in rows], "o-", label="search p50")
    left.plot(chunks, [r["search_p95_ms"] for r in rows], "o--", label="search p95")
    left.plot(chunks, [r["ask_p50_ms"] for r in rows], "s-", label="/api/ask extractive p50")
    left.set_xlabel("chunks in the index")
    left.set_ylabel("ms")
    left.set_title("latency")
    left.legend()
    for method, style in (("hybrid", "o-"), ("dense", "s--"), ("bm25", "^:")):
        right.plot(chunks, [r[f"{method}_recall@5"] for r in rows], style, label=f"{method} recall@5")
    right.plot(chunks, [r["hybrid_mrr@10"] for r in rows], "d-", label="hybrid MRR@10")
    right.set_xlabel("chunks in the index")
    right.set_title("dev set with news distractors")
    right.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)


# ------------------------------------------------------------------ main
def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "_ingest":
        child_ingest(sys.argv[4:], sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", nargs="+", default=["0", "5000"], help="news articles to add: numbers or 'all'")
    parser.add_argument("--news", type=Path, default=NEWS)
    parser.add_argument("--work", type=Path, default=Path("/tmp/rag-scale"))
    parser.add_argument("--out", type=Path, default=None, help="results JSON (default WORK/results.json)")
    parser.add_argument("--chart", type=Path, default=None)
    parser.add_argument("--reingest", action="store_true", help="ingest again even when an index for N exists")
    parser.add_argument("--chart-only", action="store_true", help="redraw the chart and table from --out")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    for noisy in ("httpx", "jieba", "faiss", "rag"):
        logging.getLogger(noisy).setLevel(logging.WARNING)

    out = args.out or args.work / "results.json"
    results: dict[str, dict[str, Any]] = json.loads(out.read_text()) if out.exists() else {}
    if not args.chart_only:
        from rag.config import get_settings
        from rag.evaluation.dataset import load_datasets

        questions = [row["question"] for row in load_datasets(DEV)]
        for label in args.n:
            n = None if label == "all" else int(label)
            index_dir = args.work / f"index-{label}"
            paths = [get_settings().corpus_dir]
            news = 0
            if n != 0:
                news = write_shards(args.news, n, args.work / f"news-{label}")
                paths.append(args.work / f"news-{label}")
            result: dict[str, Any] = {"news": news}
            if args.reingest or not (index_dir / "CURRENT").exists() or (index_dir / "staging").exists():
                log.info("N=%s: ingesting data/corpus + %d news articles into %s", label, news, index_dir)
                result["ingest"] = run_ingest(paths, index_dir)
                log.info("N=%s: ingest %s", label, result["ingest"])
            elif label in results and results[label].get("ingest"):
                result["ingest"] = results[label]["ingest"]  # measured when it was built
            log.info("N=%s: measuring", label)
            result.update(measure(index_dir, questions))
            results[label] = result
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(results, indent=2, ensure_ascii=False), encoding="utf-8")
            log.info("N=%s: %s", label, json.dumps(result, ensure_ascii=False))
    print_table(results)
    if args.chart:
        draw_chart(results, args.chart)
        print(f"chart: {args.chart}")


if __name__ == "__main__":
    main()
