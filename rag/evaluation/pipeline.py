"""Glue between the evaluation harness and the answer engine: the same code path as the UI and API.

The predictor asks :class:`rag.service.RagService` exactly as the API does and stores
``Answer.to_dict()`` (the API's JSON shape) as the prediction, plus the top ten
passages so recall@10 and MRR@10 can be computed whatever ``k`` the answer used.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rag.answer.ranker import MODEL_FILE
from rag.evaluation.dataset import is_answerable, load_datasets
from rag.evaluation.metrics.latency import percentile
from rag.evaluation.metrics.retrieval import RECALL_KS, mrr_at_10, recall_at_k
from rag.evaluation.runner import run_eval
from rag.fileutil import sha256_file

if TYPE_CHECKING:
    from rag.service import RagService

RETRIEVAL_METHODS = ("bm25", "dense", "hybrid")
RANKED_PASSAGES = 10
"""Passages retrieved per question for the retrieval metrics (recall@10, MRR@10)."""


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 1)


def answer_predictor(service: RagService, mode: str, k: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    """``predict(row)`` for :func:`rag.evaluation.runner.run_eval`: one answered question."""

    def predict(row: dict[str, Any]) -> dict[str, Any]:
        answer = service.ask(row["question"], history=row.get("history"), k=k, mode=mode)
        record = answer.to_dict()
        # Recall@10 needs ten passages even when the answer used k.
        t = time.perf_counter()
        ranked = service.search(answer.standalone_question, k=RANKED_PASSAGES)
        record["retrieved"] = [r.to_public() for r in ranked.results]
        record["timings"]["retrieve10_ms"] = _ms(t)
        return record

    return predict


def run_config(service: RagService, mode: str, k: int) -> dict[str, Any]:
    """What identifies an answer run (and picks its cache): mode, k, model and index."""
    manifest = service.index_manifest
    config: dict[str, Any] = {
        "mode": mode,
        "k": k,
        "llm": service.settings.llm_model_file if mode == "local" else service.settings.openai_model,
        "embedder": manifest.embedder,
        "index_files": {name: rec.sha256 for name, rec in manifest.files.items()},
        "pipeline": manifest.pipeline,
        # The learned evidence ranker and gate decide what is answered and refused: a run
        # with another model file must not reuse this run's cached answers.
        "evidence_model": sha256_file(service.settings.evidence_model or MODEL_FILE)[:16],
    }
    if mode != "extractive":  # what the model reads, and how it samples, are part of the run
        config["context_chars"] = service.settings.llm_context_chars
        config["llm_seed"] = service.settings.llm_seed
    return config


def run_answer_eval(
    service: RagService,
    dataset: Path | Sequence[Path],
    mode: str,
    k: int,
    out_dir: Path,
    limit: int | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Answer every question of ``dataset`` (one file or several; one split or all) and report the run.

    Follow-up rows pass their ``history`` to :meth:`RagService.ask`, as a client would.
    """
    predict = answer_predictor(service, mode, k)
    return run_eval(dataset, predict, run_config(service, mode, k), out_dir, limit, split=split)


def retrieval_benchmark(
    service: RagService, dataset: Path | Sequence[Path], limit: int | None = None, split: str | None = None
) -> dict[str, dict[str, Any]]:
    """Recall@1/3/5/10, MRR@10 and latency for BM25 alone, dense alone and hybrid, side by side."""
    items = [row for row in load_datasets(dataset, split) if is_answerable(row) and row.get("evidence")]
    if limit:
        items = items[:limit]
    table: dict[str, dict[str, Any]] = {}
    for method in RETRIEVAL_METHODS:
        preds, latencies = [], []
        for row in items:
            t = time.perf_counter()
            result = service.search(row["question"], k=RANKED_PASSAGES, method=method)
            latencies.append((time.perf_counter() - t) * 1000)
            preds.append({"retrieved": [r.to_public() for r in result.results]})
        table[method] = {
            **{f"recall@{k}": recall_at_k(items, preds, k) for k in RECALL_KS},
            "mrr@10": mrr_at_10(items, preds),
            "p50_ms": percentile(latencies, 50),
            "p95_ms": percentile(latencies, 95),
            "questions": len(items),
        }
    return table
