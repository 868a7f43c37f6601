"""Run a dataset through the pipeline, resumably, then score and report it.

Why resumable: a run over the dev set with the local 1.5B model takes tens of
minutes on two CPU cores; an interrupted run (Ctrl-C, crash, a server restart) must
continue where it stopped instead of starting over. Every prediction is appended as
one JSON line to ``out_dir/cache/<config-hash>.jsonl`` the moment it is made, keyed
by question id; the hash covers the whole run config (mode, k, model, index
manifest...), so changing any of those starts a fresh cache instead of mixing runs.
Per-question errors are recorded in the cache and retried on the next run (they are
usually a server that was down), never fatal.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from tqdm import tqdm

from rag.evaluation.dataset import is_answerable, load_datasets
from rag.evaluation.judge import Judge, JudgeSettings
from rag.evaluation.metrics import compute_metrics
from rag.evaluation.metrics.citations import JUDGED_KEY, citations_to_judge
from rag.evaluation.report import write_report
from rag.verify.support import SUPPORT_THRESHOLD

logger = logging.getLogger(__name__)

Predict = Callable[[dict[str, Any]], dict[str, Any]]


def config_hash(config: Mapping[str, Any]) -> str:
    """Stable short hash of a run config (key order does not matter)."""
    blob = json.dumps(config, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:12]


def load_cache(path: Path) -> dict[str, dict[str, Any]]:
    """Cached records by question id; the last line for an id wins.

    A torn last line (the process was killed mid-write) is skipped with a warning.
    """
    records: dict[str, dict[str, Any]] = {}
    if not path.exists():
        return records
    with path.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                records[str(rec["id"])] = rec
            except (json.JSONDecodeError, KeyError, TypeError):
                logger.warning("%s:%d: unreadable cache line skipped", path, lineno)
    return records


def _append(path: Path, record: Mapping[str, Any]) -> None:
    with path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(record, ensure_ascii=False, default=str) + "\n")
        f.flush()


def _predict_one(predict: Predict, item: dict[str, Any]) -> dict[str, Any]:
    start = time.perf_counter()
    try:
        pred = predict(item)
        if not isinstance(pred, Mapping):
            raise TypeError(f"predict returned {type(pred).__name__}, not a dict")
        rec: dict[str, Any] = {"id": item["id"], "prediction": dict(pred)}
    except Exception as e:  # noqa: BLE001 - one failing question must not end the run
        logger.warning("question %s failed: %s", item["id"], e)
        rec = {"id": item["id"], "error": f"{type(e).__name__}: {e}", "traceback": traceback.format_exc()}
    rec["wall_ms"] = round((time.perf_counter() - start) * 1000, 1)
    return rec


def _judge(record: dict[str, Any], item: Mapping[str, Any], judge: Judge) -> bool:
    """Add the judge's missing verdicts to a cached record; True when something was added.

    Two verdicts: the answer's score against the reference, and, for cited passages
    that hold no evidence quote, whether they support the sentences citing them
    (stored only when every such passage got a verdict, so an outage is retried).
    """
    pred = record.get("prediction") or {}
    answer = pred.get("answer")
    if not isinstance(answer, str) or not is_answerable(item):
        return False
    added = False
    if item.get("answer") and "judge_score" not in pred:
        score = judge.score(item["question"], str(item["answer"]), answer)
        if score is not None:
            pred["judge_score"] = score
            added = True
    pending = citations_to_judge(item, pred) if JUDGED_KEY not in pred else []
    verdicts = {str(n): judge.supports(claim, text) for n, claim, text in pending}
    if pending and all(v is not None for v in verdicts.values()):
        pred[JUDGED_KEY] = verdicts
        added = True
    return added


def _resolve_judge(judge: Judge | bool | None) -> Judge | None:
    if isinstance(judge, Judge):
        return judge
    if judge is False:
        return None
    configured = Judge.from_settings(JudgeSettings())
    if judge and configured is None:
        raise ValueError("judge requested but RAG_JUDGE_BASE_URL / RAG_JUDGE_MODEL are not set")
    return configured


def record_to_prediction(record: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The metrics' view of a cache record: the prediction, or ``{"error": ...}``."""
    if record is None:
        return None
    if record.get("error"):
        return {"error": record["error"]}
    pred = dict(record.get("prediction") or {})
    timings = dict(pred.get("timings") or {})
    if timings.get("total_ms") is None and record.get("wall_ms") is not None:
        timings["total_ms"] = record["wall_ms"]  # pipeline gave none: use the wall clock
    pred["timings"] = timings
    return pred


def run_eval(
    dataset_path: str | Path | Sequence[str | Path],
    predict: Predict,
    config: dict[str, Any],
    out_dir: Path,
    limit: int | None = None,
    *,
    judge: Judge | bool | None = None,
    threshold: float = SUPPORT_THRESHOLD,
    retry_errors: bool = True,
    progress: bool = True,
    split: str | None = None,
) -> dict[str, Any]:
    """Evaluate ``predict`` on a dataset; returns the metrics (also in ``metrics.json``).

    ``dataset_path`` is one JSONL file or several read as one set (ids unique
    across them); ``split`` (``tune``/``test``) keeps only that split's rows (rows
    without a ``split`` are left out then). The split is recorded in the run config
    but not hashed into the cache key: a prediction does not depend on which split
    asked for it, so tune and test runs into one folder share their cache.
    ``predict`` receives the dataset row and returns the pipeline's answer object
    (``rag ask --json`` plus ``retrieved``). ``config`` describes the run (mode, k,
    model, index manifest...) and picks the cache file. ``limit`` keeps the first N
    questions. ``judge``: a :class:`~rag.evaluation.judge.Judge` scores the
    answers; None uses the one ``RAG_JUDGE_*`` configures, if any; False never
    judges; True requires the configured one. Writes into ``out_dir``: ``cache/``,
    ``predictions.jsonl``, ``metrics.json``, ``report.md``, ``report.html``,
    ``per_question.jsonl``, ``config.json`` and ``charts/*.png``.
    """
    out_dir = Path(out_dir)
    paths = [dataset_path] if isinstance(dataset_path, str | Path) else list(dataset_path)
    items = load_datasets(paths, split)
    if limit is not None:
        items = items[:limit]
    chash = config_hash(config)
    cache_dir = out_dir / "cache"
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_path = cache_dir / f"{chash}.jsonl"
    cache = load_cache(cache_path)

    scorer = _resolve_judge(judge)

    def done(qid: str) -> bool:
        rec = cache.get(qid)
        return rec is not None and not (retry_errors and rec.get("error"))

    todo = [i for i in items if not done(i["id"])]
    logger.info(
        "eval %s: %d questions, %d cached, %d to run (cache %s)",
        ", ".join(map(str, paths)), len(items), len(items) - len(todo), len(todo), cache_path,
    )
    bar = tqdm(total=len(items), initial=len(items) - len(todo), desc="eval", unit="q", disable=not progress)
    try:
        for item in todo:
            rec = _predict_one(predict, item)
            if scorer is not None and "prediction" in rec:
                _judge(rec, item, scorer)
            _append(cache_path, rec)
            cache[item["id"]] = rec
            bar.update(1)
    finally:
        bar.close()

    # Judge cached predictions made before the judge was configured.
    if scorer is not None:
        for item in items:
            rec = cache.get(item["id"])
            if rec and "prediction" in rec and _judge(rec, item, scorer):
                _append(cache_path, rec)

    records = [cache.get(i["id"]) for i in items]
    preds = [record_to_prediction(r) for r in records]
    result = compute_metrics(items, preds, threshold)
    result["run"] = {
        "dataset": ", ".join(map(str, paths)),
        "datasets": [str(p) for p in paths],
        "split": split,
        "config": {**config, "split": split} if split else config,
        "config_hash": chash,
        "limit": limit,
        "finished_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    with (out_dir / "predictions.jsonl").open("w", encoding="utf-8") as f:
        for item, rec in zip(items, records, strict=True):
            f.write(json.dumps(rec or {"id": item["id"], "error": "missing"}, ensure_ascii=False, default=str) + "\n")
    write_report(out_dir, items, preds, result, threshold=threshold)
    logger.info("eval done: %d errors; report in %s", result["n_errors"], out_dir)
    return result
