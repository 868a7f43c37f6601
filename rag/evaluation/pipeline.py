"""Glue between the evaluation harness and the answer engine: the same code path as the UI and API."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any, Callable

from rag.evaluation import metrics as M
from rag.evaluation.runner import load_dataset, run_eval
from rag.service import RagService

RETRIEVAL_METHODS = ("bm25", "dense", "hybrid")


def answer_predictor(service: RagService, mode: str, k: int) -> Callable[[dict], dict]:
    def predict(row: dict) -> dict[str, Any]:
        result = service.ask(row["question"], history=row.get("history"), k=k, mode=mode)
        # Recall@10 needs ten passages even when the answer used k.
        t = time.perf_counter()
        top10 = service.retrieve(result["standalone_question"], k=10)
        result["retrieved"] = [r.to_public() for r in top10.results]
        result["timings"]["retrieve10_ms"] = round((time.perf_counter() - t) * 1000, 1)
        return result

    return predict


def run_answer_eval(
    service: RagService, dataset: Path, mode: str, k: int, out_dir: Path, limit: int | None = None
) -> dict[str, Any]:
    manifest = service._fresh().index.manifest
    config = {
        "mode": mode,
        "k": k,
        "llm": service.settings.llm_model_file if mode == "local" else service.settings.openai_model,
        "embedder": manifest.embedder,
        "index_files": {name: rec.sha256 for name, rec in manifest.files.items()},
        "pipeline": manifest.pipeline,
    }
    return run_eval(dataset, answer_predictor(service, mode, k), config, out_dir, limit)


def retrieval_benchmark(service: RagService, dataset: Path, limit: int | None = None) -> dict[str, dict[str, Any]]:
    """Recall@1/3/5/10, MRR@10 and latency for BM25 alone, dense alone and hybrid, side by side."""
    items = [row for row in load_dataset(dataset) if M.is_answerable(row) and row.get("evidence")]
    if limit:
        items = items[:limit]
    table: dict[str, dict[str, Any]] = {}
    for method in RETRIEVAL_METHODS:
        preds, latencies = [], []
        for row in items:
            t = time.perf_counter()
            result = service.retrieve(row["question"], k=10, method=method)
            latencies.append((time.perf_counter() - t) * 1000)
            preds.append({"retrieved": [r.to_public() for r in result.results]})
        table[method] = {
            **{f"recall@{k}": M.recall_at_k(items, preds, k) for k in (1, 3, 5, 10)},
            "mrr@10": M.mrr_at_10(items, preds),
            "p50_ms": M.percentile(latencies, 50),
            "p95_ms": M.percentile(latencies, 95),
            "questions": len(items),
        }
    return table
