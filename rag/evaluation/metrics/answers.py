"""Answer metrics: key-fact correctness, refusals, and the mean LLM-judge score.

Key facts are checked by containment after :func:`rag.text.normalize.compact`
(NFKC, lower case, no whitespace or citation markers), so "１７０ 亿美元[1]" holds
"170亿美元". The judge's scores are computed by :mod:`rag.evaluation.judge` at run
time and stored in the prediction; here they are only averaged.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.dataset import Item, answer_alternatives, is_answerable, must_include
from rag.evaluation.metrics.predictions import Pred, answer_text, mean_or_none, pairs, refused, usable
from rag.text.normalize import compact


def key_fact_correct(item: Item, answer: str | None) -> bool | None:
    """All ``must_include`` strings, and one alternative of every required answer in
    ``answer_alternatives``, occur in the normalised answer. None without either key."""
    must = must_include(item)
    alts = answer_alternatives(item)
    if answer is None or (not must and not alts):
        return None
    ans = compact(answer)
    if not all(compact(m) in ans for m in must):
        return False
    return all(any(compact(a) in ans for a in group) for group in alts if group)


def key_fact_accuracy(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of answerable questions with key facts whose answer is key-fact correct."""
    values = []
    for item, pred in pairs(items, preds):
        if not is_answerable(item):
            continue
        ok = key_fact_correct(item, answer_text(pred))
        if ok is not None:
            values.append(float(ok))
    return mean_or_none(values)


def refusal_rate(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of unanswerable questions the pipeline refused (higher is better)."""
    values = [refused(p) for i, p in pairs(items, preds) if not is_answerable(i)]
    return mean_or_none([float(v) for v in values if v is not None])


def false_refusal_rate(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of answerable questions the pipeline refused (lower is better)."""
    values = [refused(p) for i, p in pairs(items, preds) if is_answerable(i)]
    return mean_or_none([float(v) for v in values if v is not None])


def judge_mean(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Mean judge score over answerable questions that have one (``pred["judge_score"]``)."""
    values = []
    for item, pred in pairs(items, preds):
        if is_answerable(item) and usable(pred):
            s = pred.get("judge_score")  # type: ignore[union-attr]
            if isinstance(s, int | float):
                values.append(float(s))
    return mean_or_none(values)
