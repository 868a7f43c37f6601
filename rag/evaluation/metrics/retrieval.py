"""Retrieval metrics: did the top-k passages hold the evidence, and how high up?

What counts as a hit is :func:`evidence_hit`; recall@k and MRR@10 are computed over
the answerable questions that have evidence and a retrieved list (eval/README.md).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from rag.evaluation.dataset import Item, evidence_groups, evidence_quotes, is_answerable
from rag.evaluation.metrics.predictions import Pred, mean_or_none, pairs, retrieved_texts
from rag.text.normalize import compact
from rag.verify.support import longest_common_substring

RECALL_KS: tuple[int, ...] = (1, 3, 5, 10)
ALL_EVIDENCE_KS: tuple[int, ...] = (5, 10)
MRR_K = 10
PARTIAL_HIT_FRACTION = 0.6
"""A passage holding a contiguous piece of >= 60% of a quote hits it (chunk boundary)."""
MIN_PARTIAL_QUOTE_CHARS = 10
"""Shorter quotes must be contained whole: 60% of 5 characters is a coincidence."""


def evidence_hit(passage_text: str, quote: str, min_fraction: float = PARTIAL_HIT_FRACTION) -> bool:
    """Does a retrieved passage contain an evidence quote?

    Both are :func:`rag.text.normalize.compact`-ed (width, case and spacing do not
    matter). A hit is either full containment, or — because a quote may straddle a
    chunk boundary and then lives half in each chunk — a contiguous common piece
    (longest common substring) covering at least ``min_fraction`` of the quote's
    characters. The partial rule applies only to quotes of at least
    ``MIN_PARTIAL_QUOTE_CHARS`` normalised characters.
    """
    q = compact(quote)
    p = compact(passage_text)
    if not q or not p:
        return False
    if q in p:
        return True
    if len(q) < MIN_PARTIAL_QUOTE_CHARS:
        return False
    return longest_common_substring(q, p) >= math.ceil(min_fraction * len(q))


def first_hit_rank(passages: Sequence[str], quotes: Sequence[str], k: int = MRR_K) -> int | None:
    """1-based rank of the first of the top-``k`` passages that hits any quote."""
    for rank, text in enumerate(passages[:k], start=1):
        if any(evidence_hit(text, q) for q in quotes):
            return rank
    return None


def all_evidence_hit(passages: Sequence[str], groups: Sequence[Sequence[str]], k: int) -> bool:
    """Every evidence group has a quote hit by some top-``k`` passage.

    ``groups`` is :func:`rag.evaluation.dataset.evidence_groups` (a plain quote list
    ``[q1, q2]`` is ``[[q1], [q2]]``).
    """
    top = passages[:k]
    return bool(groups) and all(any(evidence_hit(t, q) for t in top for q in g) for g in groups)


def _retrieval_cases(items: Sequence[Item], preds: Sequence[Pred]) -> list[tuple[list[str], list[str]]]:
    cases = []
    for item, pred in pairs(items, preds):
        quotes = evidence_quotes(item)
        texts = retrieved_texts(pred)
        if is_answerable(item) and quotes and texts is not None:
            cases.append((texts, quotes))
    return cases


def recall_at_k(items: Sequence[Item], preds: Sequence[Pred], k: int) -> float | None:
    """Share of answerable questions with evidence where a top-k passage hits ANY quote."""
    cases = _retrieval_cases(items, preds)
    return mean_or_none([float(first_hit_rank(t, q, k) is not None) for t, q in cases])


def all_evidence_recall_at_k(items: Sequence[Item], preds: Sequence[Pred], k: int) -> float | None:
    """Share of multi-passage questions where EVERY evidence group is hit in the top k."""
    values = []
    for item, pred in pairs(items, preds):
        groups = evidence_groups(item)
        texts = retrieved_texts(pred)
        if item.get("type") == "multi-passage" and groups and texts is not None:
            values.append(float(all_evidence_hit(texts, groups, k)))
    return mean_or_none(values)


def mrr_at_10(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Mean of 1/rank of the first hit in the top 10 (0 when none), same questions as recall."""
    cases = _retrieval_cases(items, preds)
    ranks = [first_hit_rank(t, q, MRR_K) for t, q in cases]
    return mean_or_none([1.0 / r if r else 0.0 for r in ranks])
