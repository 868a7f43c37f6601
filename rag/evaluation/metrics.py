"""Evaluation metrics: pure functions over dataset items and pipeline predictions.

Why pure functions: every number in a report must be reproducible from the cached
predictions alone, and each rule (what counts as a retrieval hit, a correct answer,
a supported citation) must be testable on hand-made predictions. The exact
definitions are repeated in eval/README.md.

Conventions: ``items`` are dataset rows (see eval/README.md), ``preds`` the
predictions aligned with them. A prediction may be ``None`` or carry an ``"error"``
key (the question failed): it then counts for no metric, only for ``n_errors``.
A metric whose inputs are absent (no evidence, no answers, no timings...) is
``None``, never 0, so a retrieval-only run does not report 0% answer accuracy.
"""

from __future__ import annotations

import json
import logging
import math
import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import numpy as np
from pydantic_settings import BaseSettings, SettingsConfigDict

from rag.verify.citations import (
    SUPPORT_THRESHOLD,
    is_claim,
    longest_common_substring,
    parse_markers,
    score_markers,
    split_sentences,
)

logger = logging.getLogger(__name__)

UNANSWERABLE = "unanswerable"
RECALL_KS: tuple[int, ...] = (1, 3, 5, 10)
ALL_EVIDENCE_KS: tuple[int, ...] = (5, 10)
MRR_K = 10
PARTIAL_HIT_FRACTION = 0.6
"""A passage holding a contiguous piece of >= 60% of a quote hits it (chunk boundary)."""
MIN_PARTIAL_QUOTE_CHARS = 10
"""Shorter quotes must be contained whole: 60% of 5 characters is a coincidence."""
LATENCY_KEYS: tuple[str, ...] = ("retrieve_ms", "generate_ms", "total_ms", "ttft_ms")

Item = Mapping[str, Any]
Pred = Mapping[str, Any] | None


# ------------------------------------------------------------------ text rules


def normalize(s: str) -> str:
    """NFKC (full-width -> half-width), case-folded, with all whitespace removed.

    Case folding is added to the plain NFKC rule so "IPO" and "ipo" match in
    must_include checks; it changes nothing for Chinese.
    """
    return "".join(unicodedata.normalize("NFKC", s or "").casefold().split())


def evidence_hit(passage_text: str, quote: str, min_fraction: float = PARTIAL_HIT_FRACTION) -> bool:
    """Does a retrieved passage contain an evidence quote?

    Both are :func:`normalize`-d. A hit is either full containment, or — because a
    quote may straddle a chunk boundary and then lives half in each chunk — a
    contiguous common piece (longest common substring) covering at least
    ``min_fraction`` of the quote's characters. The partial rule applies only to
    quotes of at least ``MIN_PARTIAL_QUOTE_CHARS`` normalised characters.
    """
    q = normalize(quote)
    p = normalize(passage_text)
    if not q or not p:
        return False
    if q in p:
        return True
    if len(q) < MIN_PARTIAL_QUOTE_CHARS:
        return False
    return longest_common_substring(q, p) >= math.ceil(min_fraction * len(q))


# ------------------------------------------------------------- item accessors


def is_answerable(item: Item) -> bool:
    return item.get("type") != UNANSWERABLE


def evidence_quotes(item: Item) -> list[str]:
    quotes = []
    for ev in item.get("evidence") or []:
        q = ev.get("quote") if isinstance(ev, Mapping) else ev
        if isinstance(q, str) and q.strip():
            quotes.append(q)
    return quotes


def evidence_groups(item: Item) -> list[list[str]]:
    """Evidence quotes grouped by their optional ``group`` key.

    All-evidence recall needs one hit per group: a multi-passage question whose
    second fact is backed by three equivalent articles lists them in one group.
    Quotes without a group are each a group of their own.
    """
    groups: dict[Any, list[str]] = {}
    for n, ev in enumerate(item.get("evidence") or []):
        if not isinstance(ev, Mapping):
            continue
        q = ev.get("quote")
        if isinstance(q, str) and q.strip():
            key = ("g", ev["group"]) if ev.get("group") is not None else ("n", n)
            groups.setdefault(key, []).append(q)
    return list(groups.values())


def usable(pred: Pred) -> bool:
    """A prediction that exists and did not fail."""
    return isinstance(pred, Mapping) and not pred.get("error")


def retrieved_texts(pred: Pred) -> list[str] | None:
    if not usable(pred) or pred.get("retrieved") is None:  # type: ignore[union-attr]
        return None
    return [str(r.get("text", "")) for r in pred["retrieved"]]  # type: ignore[index]


def answer_text(pred: Pred) -> str | None:
    if not usable(pred):
        return None
    ans = pred.get("answer")  # type: ignore[union-attr]
    return ans if isinstance(ans, str) else None


def _pairs(items: Sequence[Item], preds: Sequence[Pred]) -> Iterable[tuple[Item, Pred]]:
    if len(items) != len(preds):
        raise ValueError(f"{len(items)} items but {len(preds)} predictions")
    return zip(items, preds, strict=True)


def _mean(values: Sequence[float]) -> float | None:
    return float(sum(values) / len(values)) if values else None


# ------------------------------------------------------------------ retrieval


def first_hit_rank(passages: Sequence[str], quotes: Sequence[str], k: int = MRR_K) -> int | None:
    """1-based rank of the first of the top-``k`` passages that hits any quote."""
    for rank, text in enumerate(passages[:k], start=1):
        if any(evidence_hit(text, q) for q in quotes):
            return rank
    return None


def all_evidence_hit(passages: Sequence[str], groups: Sequence[Sequence[str]], k: int) -> bool:
    """Every evidence group has a quote hit by some top-``k`` passage.

    ``groups`` is :func:`evidence_groups` (a plain quote list ``[q1, q2]`` is
    ``[[q1], [q2]]``).
    """
    top = passages[:k]
    return bool(groups) and all(any(evidence_hit(t, q) for t in top for q in g) for g in groups)


def _retrieval_cases(items: Sequence[Item], preds: Sequence[Pred]) -> list[tuple[list[str], list[str]]]:
    cases = []
    for item, pred in _pairs(items, preds):
        quotes = evidence_quotes(item)
        texts = retrieved_texts(pred)
        if is_answerable(item) and quotes and texts is not None:
            cases.append((texts, quotes))
    return cases


def recall_at_k(items: Sequence[Item], preds: Sequence[Pred], k: int) -> float | None:
    """Share of answerable questions with evidence where a top-k passage hits ANY quote."""
    cases = _retrieval_cases(items, preds)
    return _mean([float(first_hit_rank(t, q, k) is not None) for t, q in cases])


def all_evidence_recall_at_k(items: Sequence[Item], preds: Sequence[Pred], k: int) -> float | None:
    """Share of multi-passage questions where EVERY evidence group is hit in the top k."""
    values = []
    for item, pred in _pairs(items, preds):
        groups = evidence_groups(item)
        texts = retrieved_texts(pred)
        if item.get("type") == "multi-passage" and groups and texts is not None:
            values.append(float(all_evidence_hit(texts, groups, k)))
    return _mean(values)


def mrr_at_10(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Mean of 1/rank of the first hit in the top 10 (0 when none), same questions as recall."""
    cases = _retrieval_cases(items, preds)
    ranks = [first_hit_rank(t, q, MRR_K) for t, q in cases]
    return _mean([1.0 / r if r else 0.0 for r in ranks])


# ---------------------------------------------------------------- correctness


def answer_alternatives(item: Item) -> list[list[str]]:
    """Required answers, each a list of accepted alternatives (RGB style)."""
    alts = item.get("answer_alternatives")
    if not alts:
        return []
    return [[a for a in group if isinstance(a, str) and a.strip()] for group in alts if group]


def key_fact_correct(item: Item, answer: str | None) -> bool | None:
    """All ``must_include`` strings, and one alternative of every required answer in
    ``answer_alternatives``, occur in the normalised answer. None without either key."""
    must = [m for m in item.get("must_include") or [] if isinstance(m, str) and m.strip()]
    alts = answer_alternatives(item)
    if answer is None or (not must and not alts):
        return None
    ans = normalize(answer)
    if not all(normalize(m) in ans for m in must):
        return False
    return all(any(normalize(a) in ans for a in group) for group in alts if group)


def key_fact_accuracy(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of answerable questions with key facts whose answer is key-fact correct."""
    values = []
    for item, pred in _pairs(items, preds):
        if not is_answerable(item):
            continue
        ok = key_fact_correct(item, answer_text(pred))
        if ok is not None:
            values.append(float(ok))
    return _mean(values)


# ------------------------------------------------------------------ citations


def _citation_texts(pred: Pred) -> dict[int, str]:
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
    passages = _citation_texts(pred)
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

    Claim sentences are those :func:`rag.verify.citations.is_claim` accepts (not
    headings, connectives or refusals); a marker is valid when its ``n`` is in
    ``citations``.
    """
    answer = answer_text(pred)
    if not answer:
        return 0, 0
    valid = set(_citation_texts(pred))
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


# -------------------------------------------------------------------- refusal


def _refused(pred: Pred) -> bool | None:
    if not usable(pred) or "refused" not in pred:  # type: ignore[operator]
        return None
    return bool(pred["refused"])  # type: ignore[index]


def refusal_rate(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of unanswerable questions the pipeline refused (higher is better)."""
    values = [_refused(p) for i, p in _pairs(items, preds) if not is_answerable(i)]
    return _mean([float(v) for v in values if v is not None])


def false_refusal_rate(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Share of answerable questions the pipeline refused (lower is better)."""
    values = [_refused(p) for i, p in _pairs(items, preds) if is_answerable(i)]
    return _mean([float(v) for v in values if v is not None])


# ------------------------------------------------------------ cost and speed


def percentile(values: Sequence[float], q: float) -> float | None:
    """Linear-interpolated percentile (numpy's default), None for no values."""
    return float(np.percentile(np.asarray(values, dtype=float), q)) if values else None


def latency_percentiles(preds: Sequence[Pred]) -> dict[str, dict[str, float | None]]:
    """p50/p95/mean (ms) of each timing, over the predictions that report it."""
    out: dict[str, dict[str, float | None]] = {}
    for key in LATENCY_KEYS:
        values = []
        for pred in preds:
            if not usable(pred):
                continue
            v = (pred.get("timings") or {}).get(key)  # type: ignore[union-attr]
            if isinstance(v, int | float) and not isinstance(v, bool):
                values.append(float(v))
        out[key] = {
            "p50": percentile(values, 50),
            "p95": percentile(values, 95),
            "mean": _mean(values),
            "n": len(values),
        }
    return out


def tokens_generated(preds: Sequence[Pred]) -> dict[str, float | None]:
    """Mean and total generated tokens, and tokens per second of generation."""
    counts: list[float] = []
    rates: list[float] = []
    for pred in preds:
        if not usable(pred):
            continue
        n = pred.get("tokens_generated")  # type: ignore[union-attr]
        if not isinstance(n, int | float) or isinstance(n, bool):
            continue
        counts.append(float(n))
        gen_ms = (pred.get("timings") or {}).get("generate_ms")  # type: ignore[union-attr]
        if isinstance(gen_ms, int | float) and gen_ms > 0:
            rates.append(float(n) / (gen_ms / 1000.0))
    return {
        "mean": _mean(counts),
        "total": float(sum(counts)) if counts else None,
        "tokens_per_s": _mean(rates),
        "n": len(counts),
    }


# ---------------------------------------------------------------- LLM judge


class JudgeSettings(BaseSettings):
    """Optional LLM-as-judge endpoint (OpenAI-compatible), from ``RAG_JUDGE_*``.

    Kept here rather than in rag/config.py because only evaluation uses it.
    """

    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="RAG_", extra="ignore", env_file_encoding="utf-8"
    )

    judge_base_url: str = ""
    judge_model: str = ""
    judge_api_key: str = "not-needed"
    judge_timeout_s: float = 60.0

    @property
    def enabled(self) -> bool:
        return bool(self.judge_base_url and self.judge_model)


def make_judge_client(settings: JudgeSettings | None = None) -> Any | None:
    """An ``openai.OpenAI`` client for the judge, or None when it is not configured."""
    s = settings or JudgeSettings()
    if not s.enabled:
        return None
    from openai import OpenAI

    return OpenAI(base_url=s.judge_base_url, api_key=s.judge_api_key, timeout=s.judge_timeout_s)


_JUDGE_PROMPT = """你是严格的阅卷人。请根据参考答案判断“待评回答”是否正确回答了问题。
- 完全正确（关键事实与参考答案一致，无矛盾）：score = 1
- 部分正确（只答对部分关键事实）：score = 0.5
- 错误、答非所问或拒答：score = 0
只输出一个 JSON 对象，例如 {{"score": 1, "reason": "……"}}，不要输出其他内容。

问题：{question}
参考答案：{reference}
待评回答：{answer}"""


def parse_judge_reply(text: str) -> tuple[float, str] | None:
    """Read ``{"score": x, "reason": ...}`` from a judge reply (tolerates prose around it)."""
    m = re.search(r"\{.*\}", text or "", re.S)
    if m:
        try:
            data = json.loads(m.group(0))
            score = float(data["score"])
            return min(1.0, max(0.0, score)), str(data.get("reason", ""))
        except (ValueError, KeyError, TypeError):
            pass
    m = re.search(r"score\"?\s*[:：=]\s*([01](?:\.\d+)?)", text or "")
    if m:
        return min(1.0, max(0.0, float(m.group(1)))), ""
    return None


def judge_correctness(
    question: str,
    reference: str,
    answer: str,
    client: Any,
    model: str | None = None,
) -> float | None:
    """Score an answer 0 / 0.5 / 1 against the reference with an LLM judge.

    ``client`` is an OpenAI-compatible client (``client.chat.completions.create``);
    ``model`` defaults to ``RAG_JUDGE_MODEL``. Returns None when the judge is not
    configured, fails, or replies with something unreadable: a judge outage must
    not turn into zeros.
    """
    if client is None:
        return None
    model = model or JudgeSettings().judge_model
    if not model:
        return None
    prompt = _JUDGE_PROMPT.format(question=question, reference=reference, answer=answer)
    try:
        resp = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": prompt}],
            temperature=0,
            max_tokens=200,
        )
        text = resp.choices[0].message.content or ""
    except Exception:  # noqa: BLE001 - any transport/API error means "no verdict"
        logger.warning("judge call failed", exc_info=True)
        return None
    parsed = parse_judge_reply(text)
    if parsed is None:
        logger.warning("unreadable judge reply: %r", text[:200])
        return None
    return parsed[0]


def judge_mean(items: Sequence[Item], preds: Sequence[Pred]) -> float | None:
    """Mean judge score over answerable questions that have one (``pred["judge_score"]``)."""
    values = []
    for item, pred in _pairs(items, preds):
        if is_answerable(item) and usable(pred):
            s = pred.get("judge_score")  # type: ignore[union-attr]
            if isinstance(s, int | float):
                values.append(float(s))
    return _mean(values)


# ---------------------------------------------------------------- aggregates

QUALITY_METRICS: tuple[str, ...] = (
    *(f"recall@{k}" for k in RECALL_KS),
    *(f"all_evidence_recall@{k}" for k in ALL_EVIDENCE_KS),
    "mrr@10",
    "key_fact_accuracy",
    "judge_correctness",
    "citation_precision",
    "citation_coverage",
    "refusal_rate",
    "false_refusal_rate",
)
LOWER_IS_BETTER: frozenset[str] = frozenset({"false_refusal_rate"})


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
    out["citation_precision"] = citation_precision(preds, threshold)
    out["citation_coverage"] = citation_coverage(preds)
    out["refusal_rate"] = refusal_rate(items, preds)
    out["false_refusal_rate"] = false_refusal_rate(items, preds)
    return out


def compute_metrics(
    items: Sequence[Item], preds: Sequence[Pred], threshold: float = SUPPORT_THRESHOLD
) -> dict[str, Any]:
    """Overall and per-type quality metrics, latency, tokens and counts."""
    items, preds = list(items), list(preds)
    per_type: dict[str, dict[str, Any]] = {}
    types = sorted({str(i.get("type") or "untyped") for i in items})
    for t in types:
        idx = [n for n, i in enumerate(items) if str(i.get("type") or "untyped") == t]
        sub_items = [items[n] for n in idx]
        sub_preds = [preds[n] for n in idx]
        per_type[t] = {"n": len(idx), **quality_metrics(sub_items, sub_preds, threshold)}
    return {
        "n_questions": len(items),
        "n_answerable": sum(is_answerable(i) for i in items),
        "n_unanswerable": sum(not is_answerable(i) for i in items),
        "n_errors": sum(1 for p in preds if not usable(p)),
        "support_threshold": threshold,
        "overall": {"n": len(items), **quality_metrics(items, preds, threshold)},
        "per_type": per_type,
        "latency": latency_percentiles(preds),
        "tokens": tokens_generated(preds),
    }


def question_outcome(item: Item, pred: Pred, threshold: float = SUPPORT_THRESHOLD) -> dict[str, Any]:
    """One row of the per-question table: what was asked, answered, and whether it passed.

    ``passed``: an error fails; an unanswerable question passes when refused; an
    answerable one fails when refused, else passes on key facts (or, without key
    facts, a judge score >= 0.5). A retrieval-only prediction (no ``answer``) passes
    when a top-5 passage hits the evidence. None when nothing decides.
    """
    texts = retrieved_texts(pred)
    quotes = evidence_quotes(item)
    hit_rank = first_hit_rank(texts, quotes) if texts is not None and quotes else None
    answer = answer_text(pred)
    refused = _refused(pred)
    key_fact = key_fact_correct(item, answer) if is_answerable(item) else None
    judge = pred.get("judge_score") if usable(pred) else None  # type: ignore[union-attr]
    prec = citation_precision_counts(pred, threshold) if usable(pred) else (0, 0)

    passed: bool | None
    if not usable(pred):
        passed = False
    elif answer is None:
        passed = (hit_rank is not None and hit_rank <= 5) if texts is not None and quotes else None
    elif not is_answerable(item):
        passed = bool(refused)
    elif refused:
        passed = False
    elif key_fact is not None:
        passed = key_fact
    elif isinstance(judge, int | float):
        passed = judge >= 0.5
    else:
        passed = None

    return {
        "id": item.get("id"),
        "type": item.get("type") or "untyped",
        "question": item.get("question", ""),
        "expected": item.get("answer", ""),
        "answer": answer,
        "refused": refused,
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
        "passed": passed,
        "error": (pred or {}).get("error") if isinstance(pred, Mapping) else "no prediction",
    }

