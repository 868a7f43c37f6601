"""Embedding throughput of every backend side by side, on real chunks of the bundled corpus.

    .venv/bin/python bench/embed_throughput.py [--backends torch,onnx,onnx-int8] [--n 160]
        [--rounds 3] [--budget 4096] [--recall] [--ingest]

One process loads every backend, then runs interleaved rounds (torch, onnx, int8, torch,
...) over the same chunks, so a busy neighbour slows all of them alike; the table gives
the median round. Each backend embeds the way ingest does (``embed_passages`` on batches
of RAG_EMBEDDING_BATCH_SIZE chunks in corpus order). Also printed: process CPU time per
chunk (less sensitive to other processes than wall time), the cosine of each backend's
vectors to PyTorch fp32's, and the machine's load average.

``--recall`` ingests the bundled corpus with each backend into /tmp/idx_onnx_<backend>
(reused when current) and prints dev-set recall@5 / MRR@10 (dense and hybrid) and their
delta to fp32 (torch, or ONNX fp32 when torch is not among the backends: the same network).
``--recall-backends`` limits which backends are ingested for it. ``--ingest`` times a cold ingest of the bundled corpus with the default
backend into a fresh folder, and then an unchanged re-ingest.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

BACKENDS = ("torch", "onnx", "onnx-int8")
DEV = Path(__file__).resolve().parent.parent / "eval" / "datasets" / "dev.jsonl"


@dataclass
class Timing:
    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)
    vectors: np.ndarray | None = None


def load_avg() -> str:
    try:
        return Path("/proc/loadavg").read_text().split()[0]
    except OSError:
        return "?"


def real_chunks(settings, n: int) -> list[str]:
    """``n`` chunks spread over the bundled corpus (every k-th one, in corpus order)."""
    from rag.ingest.pipeline import chunks_from_file, discover

    texts = []
    for name, path in sorted(discover([settings.corpus_dir]).items()):
        texts.extend(chunk.indexed_text for chunk in chunks_from_file(path, name, settings)[1])
    step = max(len(texts) // n, 1)
    return texts[::step][:n]


def embed_like_ingest(embedder, texts: list[str], batch: int) -> np.ndarray:
    return np.concatenate([embedder.embed_passages(texts[i : i + batch]) for i in range(0, len(texts), batch)])


def throughput(settings, backends: list[str], n: int, rounds: int, budget: int | None) -> dict[str, dict]:
    from rag.embed.factory import embedder_from_settings
    from rag.embed.onnx import OnnxEmbedder

    texts = real_chunks(settings, n)
    embedders = {}
    for backend in backends:
        t0 = time.perf_counter()
        embedder = embedder_from_settings(settings.model_copy(update={"embedding_backend": backend}))
        if budget and isinstance(embedder, OnnxEmbedder):
            embedder.token_budget = budget
        embedder.warm_up()
        embedder.embed_passages(texts[:4])  # first-run allocations out of the timing
        embedders[backend] = embedder
        print(f"load {backend:10s} {time.perf_counter() - t0:6.1f} s")
    from tokenizers import Tokenizer

    tokenizer = Tokenizer.from_file(str(Path(settings.embedding_model_path) / "tokenizer.json"))
    tokens = [len(e.ids) for e in tokenizer.encode_batch(["passage: " + t for t in texts])]
    print(
        f"{len(texts)} real chunks, {np.mean(tokens):.0f} tokens mean (max {max(tokens)}), "
        f"batches of {settings.embedding_batch_size} chunks, {len(os.sched_getaffinity(0))} cores, "
        f"{rounds} interleaved rounds; load average {load_avg()} at start"
    )
    timings = {b: Timing() for b in backends}
    for _ in range(rounds):
        for backend, embedder in embedders.items():
            wall, cpu = time.perf_counter(), time.process_time()
            vectors = embed_like_ingest(embedder, texts, settings.embedding_batch_size)
            timings[backend].wall.append(time.perf_counter() - wall)
            timings[backend].cpu.append(time.process_time() - cpu)
            timings[backend].vectors = vectors
    print(f"load average {load_avg()} at end")
    ref = timings["torch"].vectors if "torch" in timings else None
    rows = {}
    for backend, t in timings.items():
        row = {
            "rate": len(texts) / statistics.median(t.wall),
            "rounds": [len(texts) / w for w in t.wall],
            "cpu_ms": 1000 * statistics.median(t.cpu) / len(texts),
        }
        if ref is not None and t.vectors is not None:
            c = np.sum(ref * t.vectors, axis=1)
            row["cos"] = (float(c.min()), float(c.mean()))
        rows[backend] = row
    return rows


def recall(settings, backends: list[str]) -> dict[str, dict]:
    """Dev-set retrieval per backend, each over an index of the bundled corpus it embedded."""
    from rag.evaluation.pipeline import retrieval_benchmark
    from rag.ingest.pipeline import ingest
    from rag.service import RagService

    rows = {}
    for backend in backends:
        configured = settings.model_copy(update={"embedding_backend": backend})
        index_dir = Path(f"/tmp/idx_onnx_{backend}")
        t0 = time.perf_counter()
        report = ingest(None, index_dir, settings=configured, progress=False)
        print(f"index {index_dir}: {report.chunks} chunks, {report.chunks_embedded} embedded in {time.perf_counter() - t0:.0f} s")
        rows[backend] = retrieval_benchmark(RagService(configured, index_dir).warm_up(), [DEV], None, None)
    return rows


def report(backends: list[str], speed: dict[str, dict], quality: dict[str, dict]) -> None:
    """One table: speed as chunks/s and as a ratio to the first backend, dev-set recall@5 /
    MRR@10 (dense and hybrid) and their delta to PyTorch fp32."""
    base = speed[backends[0]]["rate"] if speed else 1.0
    ref = quality.get("torch") or quality.get("onnx")  # the same fp32 network (cosine >= 0.9999)
    print(
        f"\n| backend | chunks/s (median) | rounds | x {backends[0]} | CPU ms/chunk | cos vs torch min / mean "
        "| dense R@5 / MRR@10 | hybrid R@5 / MRR@10 | Δ dense vs fp32 | Δ hybrid vs fp32 |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|")
    for backend in dict.fromkeys([*backends, *quality]):
        cells = ["–"] * 9
        if backend in speed:
            s = speed[backend]
            cells[:5] = [
                f"{s['rate']:.1f}",
                " ".join(f"{r:.1f}" for r in s["rounds"]),
                f"{s['rate'] / base:.2f}",
                f"{s['cpu_ms']:.0f}",
                "{:.4f} / {:.4f}".format(*s["cos"]) if "cos" in s else "–",
            ]
        if backend in quality:
            d, h = quality[backend]["dense"], quality[backend]["hybrid"]
            cells[5] = f"{d['recall@5']:.3f} / {d['mrr@10']:.3f}"
            cells[6] = f"{h['recall@5']:.3f} / {h['mrr@10']:.3f}"
            if ref is not None:
                for k, (m, r) in ((7, (d, ref["dense"])), (8, (h, ref["hybrid"]))):
                    cells[k] = f"{m['recall@5'] - r['recall@5']:+.3f} / {m['mrr@10'] - r['mrr@10']:+.3f}"
        print(f"| {backend} | " + " | ".join(cells) + " |")


def ingest_times(settings) -> None:
    from rag.ingest.pipeline import ingest

    folder = Path(tempfile.mkdtemp(prefix="idx_cold_"))
    try:
        t0 = time.perf_counter()
        cold = ingest(None, folder, settings=settings, progress=False)
        cold_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        again = ingest(None, folder, settings=settings, progress=False)
        again_s = time.perf_counter() - t0
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    print(
        f"\ningest ({settings.embedding_backend}), load average {load_avg()}: cold {cold_s:.1f} s "
        f"({cold.chunks_embedded} chunks embedded, {cold.chunks_embedded / cold_s:.1f} chunks/s end to end); "
        f"unchanged re-ingest {again_s:.2f} s ({again.chunks_embedded} embedded)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--backends", default=",".join(BACKENDS))
    ap.add_argument("--n", type=int, default=160, help="real chunks embedded per round")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--budget", type=int, default=None, help="ONNX token budget per batch (default: the embedder's)")
    ap.add_argument("--recall", action="store_true", help="also dev-set recall@5 / MRR@10 per backend")
    ap.add_argument("--recall-backends", default=None, help="backends ingested for --recall (default: --backends)")
    ap.add_argument("--ingest", action="store_true", help="also cold and unchanged ingest time, default backend")
    ap.add_argument("--no-throughput", action="store_true")
    args = ap.parse_args()

    from rag.config import Settings

    settings = Settings()
    backends = [b.strip() for b in args.backends.split(",") if b.strip()]
    unknown = set(backends) - set(BACKENDS)
    if unknown:
        ap.error(f"unknown backend(s): {', '.join(sorted(unknown))}")
    speed = {} if args.no_throughput else throughput(settings, backends, args.n, args.rounds, args.budget)
    recall_backends = [b.strip() for b in (args.recall_backends or args.backends).split(",") if b.strip()]
    quality = recall(settings, recall_backends) if args.recall else {}
    if speed or quality:
        report(backends, speed, quality)
    if args.ingest:
        ingest_times(settings)


if __name__ == "__main__":
    main()
