"""Evaluation metrics: pure functions over dataset rows and pipeline predictions.

Why pure functions: every number in a report must be reproducible from the cached
predictions alone, and each rule (what counts as a retrieval hit, a correct answer,
a supported citation) must be testable on hand-made predictions. The exact
definitions are repeated in eval/README.md.

One module per kind of metric: :mod:`.retrieval` (recall@k, MRR@10),
:mod:`.answers` (key facts, refusals, judge mean), :mod:`.citations` (evidence
citation precision, checker-rule support, coverage), :mod:`.latency` (percentiles,
tokens); :mod:`.predictions` reads a prediction. This package puts them together:
:func:`compute_metrics` for a whole run (overall, and per question type, per
near-miss kind and per tune/test split) and :func:`question_outcome` for one row
of the per-question table.

A metric whose inputs are absent (no evidence, no answers, no timings...) is
``None``, never 0, so a retrieval-only run does not report 0% answer accuracy.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from rag.evaluation.dataset import Item, evidence_quotes, is_answerable, item_split, item_type, near_miss
from rag.evaluation.metrics.answers import (
    false_refusal_rate,
    judge_mean,
    key_fact_accuracy,
    key_fact_correct,
    refusal_rate,
)
from rag.evaluation.metrics.citations import (
    citation_coverage,
    citation_precision,
    citation_precision_counts,
    evidence_citation_counts,
    evidence_citation_precision,
)
from rag.evaluation.metrics.latency import latency_percentiles, tokens_generated
from rag.evaluation.metrics.predictions import Pred, answer_text, refused, retrieved_texts, usable
from rag.evaluation.metrics.retrieval import (
    ALL_EVIDENCE_KS,
    RECALL_KS,
    all_evidence_recall_at_k,
    first_hit_rank,
    mrr_at_10,
    recall_at_k,
)
from rag.verify.support import SUPPORT_THRESHOLD

ANSWER_METRICS: tuple[str, ...] = (
    "key_fact_accuracy",
    "judge_correctness",
    "evidence_citation_precision",
    "citation_precision",
    "citation_coverage",
    "refusal_rate",
    "false_refusal_rate",
)
"""The metrics of the answers (not of retrieval), in report order."""
QUALITY_METRICS: tuple[str, ...] = (
    *(f"recall@{k}" for k in RECALL_KS),
    *(f"all_evidence_recall@{k}" for k in ALL_EVIDENCE_KS),
    "mrr@10",
    *ANSWER_METRICS,
)
LOWER_IS_BETTER: frozenset[str] = frozenset({"false_refusal_rate"})
PASS_HIT_RANK = 5
"""A retrieval-only prediction passes when a passage this high or higher hits the evidence."""


def quality_metrics(
    items: Sequence[Item], preds: Sequence[Pred], threshold: float = SUPPORT_THRESHOLD
) -> dict[str, float | None]:
    """All quality metrics of :data:`QUALITY_METRICS` for one set of questions."""
    out: dict[str, float | None] = {}
    for k in RECALL_KS:
        out[f"recall@{k}"] = recall_at_k(items, preds, k)
    for k in ALL_EVIDENCE_KS:
        out[f"all_evidence_recall@{k}"] = all_evidence_recall_at_k(items, preds, k)
    out["mrr@10"] = mrr_at_10(items, preds)
    out["key_fact_accuracy"] = key_fact_accuracy(items, preds)
    out["judge_correctness"] = judge_mean(items, preds)
    out["evidence_citation_precision"] = evidence_citation_precision(items, preds)
    out["citation_precision"] = citation_precision(preds, threshold)
    out["citation_coverage"] = citation_coverage(preds)
    out["refusal_rate"] = refusal_rate(items, preds)
    out["false_refusal_rate"] = false_refusal_rate(items, preds)
    return out


GROUPINGS: dict[str, Callable[[Item], str | None]] = {
    "per_type": item_type,
    "per_near_miss": near_miss,
    "per_split": item_split,
}
"""The breakdowns of :func:`compute_metrics`: a row without a key (None) is in no group."""


def _grouped(
    items: list[Item], preds: list[Pred], key: Callable[[Item], str | None], threshold: float
) -> dict[str, dict[str, Any]]:
    groups: dict[str, list[int]] = {}
    for n, item in enumerate(items):
        name = key(item)
        if name is not None:
            groups.setdefault(name, []).append(n)
    return {
        name: {"n": len(idx), **quality_metrics([items[n] for n in idx], [preds[n] for n in idx], threshold)}
        for name, idx in sorted(groups.items())
    }


def compute_metrics(
    items: Sequence[Item], preds: Sequence[Pred], threshold: float = SUPPORT_THRESHOLD
) -> dict[str, Any]:
    """Overall quality metrics, the same per type / near-miss kind / split, latency, tokens, counts."""
    items, preds = list(items), list(preds)
    return {
        "n_questions": len(items),
        "n_answerable": sum(is_answerable(i) for i in items),
        "n_unanswerable": sum(not is_answerable(i) for i in items),
        "n_errors": sum(1 for p in preds if not usable(p)),
        "support_threshold": threshold,
        "overall": {"n": len(items), **quality_metrics(items, preds, threshold)},
        **{name: _grouped(items, preds, key, threshold) for name, key in GROUPINGS.items()},
        "latency": latency_percentiles(preds),
        "tokens": tokens_generated(preds),
    }


def _passed(
    item: Item, pred: Pred, hit_rank: int | None, retrieval_judged: bool, key_fact: bool | None, judge: Any
) -> bool | None:
    if not usable(pred):
        return False
    if answer_text(pred) is None:
        return (hit_rank is not None and hit_rank <= PASS_HIT_RANK) if retrieval_judged else None
    if not is_answerable(item):
        return bool(refused(pred))
    if refused(pred):
        return False
    if key_fact is not None:
        return key_fact
    if isinstance(judge, int | float):
        return judge >= 0.5
    return None


def question_outcome(item: Item, pred: Pred, threshold: float = SUPPORT_THRESHOLD) -> dict[str, Any]:
    """One row of the per-question table: what was asked, answered, and whether it passed.

    ``passed``: an error fails; an unanswerable question passes when refused; an
    answerable one fails when refused, else passes on key facts (or, without key
    facts, a judge score >= 0.5). A retrieval-only prediction (no ``answer``) passes
    when a top-5 passage hits the evidence. None when nothing decides.
    """
    texts = retrieved_texts(pred)
    quotes = evidence_quotes(item)
    retrieval_judged = texts is not None and bool(quotes)
    hit_rank = first_hit_rank(texts, quotes) if retrieval_judged else None  # type: ignore[arg-type]
    answer = answer_text(pred)
    key_fact = key_fact_correct(item, answer) if is_answerable(item) else None
    judge = pred.get("judge_score") if usable(pred) else None  # type: ignore[union-attr]
    prec = citation_precision_counts(pred, threshold) if usable(pred) else (0, 0)
    held, cited = evidence_citation_counts(item, pred)
    return {
        "id": item.get("id"),
        "type": item.get("type") or "untyped",
        "near_miss": near_miss(item),
        "split": item.get("split"),
        "question": item.get("question", ""),
        "expected": item.get("answer", ""),
        "answer": answer,
        "refused": refused(pred),
        "citations": [
            {k: c.get(k) for k in ("n", "file", "title", "section")}
            for c in ((pred or {}).get("citations") or [])
            if isinstance(c, Mapping)
        ],
        "hit_rank": hit_rank,
        "key_fact": key_fact,
        "judge_score": judge if isinstance(judge, int | float) else None,
        "citations_supported": prec[0],
        "citations_total": prec[1],
        "evidence_citations": held,
        "evidence_citations_total": cited,
        "cited_evidence": held > 0 if cited else None,
        "passed": _passed(item, pred, hit_rank, retrieval_judged, key_fact, judge),
        "error": (pred or {}).get("error") if isinstance(pred, Mapping) else "no prediction",
    }
