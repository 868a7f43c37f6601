"""Citation metrics: do the cited passages hold the evidence, are the markers supported, are claims cited?

Two kinds on purpose. :func:`evidence_citation_precision` is independent of the
answer-time citation check: a cited passage counts only when it holds one of the
item's evidence quotes (the dataset's word, not the checker's), so it can fall
below 1.0 when the checker lets a wrong passage through. :func:`citation_precision`
("citation support (checker rule)" in reports) and :func:`citation_coverage` use
the service's own rules (:mod:`rag.verify`): a marker counts as supported exactly
when the citation check would keep it, so they measure what users see, not a second
opinion, and an answer that passed the check scores 1.0 by construction.
"""

from __future__ import annotations

from collections.abc import Sequence

from rag.evaluation.dataset import Item, evidence_quotes, is_answerable
from rag.evaluation.metrics.predictions import Pred, answer_text, pairs, refused
from rag.evaluation.metrics.retrieval import evidence_hit
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


JUDGED_KEY = "citation_judgements"
"""Where a prediction keeps the judge's verdicts on cited passages without the evidence: ``{"n": bool}``."""


def _evidence_cases(item: Item, pred: Pred) -> tuple[list[str], dict[int, str]]:
    """(evidence quotes, cited passages by n) when the metric applies to this answer, else empties."""
    quotes = evidence_quotes(item)
    if not quotes or not is_answerable(item) or answer_text(pred) is None or refused(pred):
        return [], {}
    return quotes, citation_texts(pred)


def citations_to_judge(item: Item, pred: Pred) -> list[tuple[int, str, str]]:
    """(n, the answer's sentences citing it, passage) for cited passages holding no evidence quote.

    What a separate judge may still accept (the same fact told by another article);
    the runner asks it when one is configured and stores the verdicts under
    :data:`JUDGED_KEY`.
    """
    quotes, cited = _evidence_cases(item, pred)
    sentences = split_sentences(answer_text(pred) or "")
    return [
        (n, "".join(s for s in sentences if n in parse_markers(s)), text)
        for n, text in cited.items()
        if not any(evidence_hit(text, q) for q in quotes)
    ]


def evidence_citation_counts(item: Item, pred: Pred) -> tuple[int, int]:
    """(cited passages holding the evidence, cited passages) in one answer.

    Counted for answerable items with evidence whose prediction answered (not
    refused); otherwise ``(0, 0)``. A passage holds the evidence when it hits one of
    the item's quotes by :func:`evidence_hit`, the retrieval metrics' rule (the whole
    quote, or a contiguous piece of most of it: a quote cut by a chunk boundary), or
    when a separate judge said it supports the sentences citing it (:data:`JUDGED_KEY`).
    Never by the answer-time checker's rule.
    """
    quotes, cited = _evidence_cases(item, pred)
    judged = (pred or {}).get(JUDGED_KEY) or {}
    held = sum(
        any(evidence_hit(text, q) for q in quotes) or judged.get(str(n)) is True for n, text in cited.items()
    )
    return held, len(cited)


def evidence_citation_precision(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Cited passages holding the item's evidence / cited passages, pooled over answers."""
    good = total = 0
    for item, pred in pairs(items, preds):
        g, t = evidence_citation_counts(item, pred)
        good, total = good + g, total + t
    return good / total if total else None


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
