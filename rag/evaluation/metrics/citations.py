"""Citation metrics: are the answer's ``[n]`` markers supported, and are its claims cited?

Both use the service's own rules (:mod:`rag.verify`): a marker counts as supported
exactly when the citation check would keep it, and a claim is what the check treats
as one. So the metric measures what users see, not a second opinion.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.metrics.predictions import Pred, answer_text
from rag.text.markers import parse_markers
from rag.text.sentences import split_sentences
from rag.verify.citations import score_markers
from rag.verify.claims import is_claim
from rag.verify.support import SUPPORT_THRESHOLD


def citation_texts(pred: Pred) -> dict[int, str]:
    """The prediction's citation texts by marker number (malformed entries skipped)."""
    out: dict[int, str] = {}
    for c in (pred or {}).get("citations") or []:
        try:
            out[int(c["n"])] = str(c.get("text", ""))
        except (KeyError, TypeError, ValueError):
            continue
    return out


def citation_precision_counts(pred: Pred, threshold: float = SUPPORT_THRESHOLD) -> tuple[int, int]:
    """(supported markers, all markers) in one answer.

    A marker ``[n]`` is supported when ``citations`` has an entry with that ``n`` and
    :func:`rag.verify.citations.score_markers` scores its text >= ``threshold``
    for the clause/sentence carrying the marker (words it repeats from the question
    need no support, as in the service's check). Markers naming no citation count
    as unsupported.
    """
    answer = answer_text(pred)
    if not answer:
        return 0, 0
    passages = citation_texts(pred)
    question = (pred or {}).get("standalone_question") or (pred or {}).get("question")
    good = total = 0
    for sentence in split_sentences(answer):
        for _, score in score_markers(sentence, passages, question if isinstance(question, str) else None):
            total += 1
            good += int(score is not None and score >= threshold)
    return good, total


def citation_precision(preds: Sequence[Pred], threshold: float = SUPPORT_THRESHOLD) -> float | None:
    """Supported markers / all markers, pooled over every answer (micro average)."""
    good = total = 0
    for pred in preds:
        g, t = citation_precision_counts(pred, threshold)
        good, total = good + g, total + t
    return good / total if total else None


def citation_coverage_counts(pred: Pred) -> tuple[int, int]:
    """(claim sentences carrying a valid marker, claim sentences) in one answer.

    Claim sentences are those :func:`rag.verify.claims.is_claim` accepts (not
    headings, connectives or refusals); a marker is valid when its ``n`` is in
    ``citations``.
    """
    answer = answer_text(pred)
    if not answer:
        return 0, 0
    valid = set(citation_texts(pred))
    covered = claims = 0
    for sentence in split_sentences(answer):
        if not is_claim(sentence):
            continue
        claims += 1
        covered += int(any(n in valid for n in parse_markers(sentence)))
    return covered, claims


def citation_coverage(preds: Sequence[Pred]) -> float | None:
    """Claim sentences with a valid citation / claim sentences, pooled over answers."""
    covered = claims = 0
    for pred in preds:
        c, n = citation_coverage_counts(pred)
        covered, claims = covered + c, claims + n
    return covered / claims if claims else None
