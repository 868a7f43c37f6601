"""Learn the evidence ranker and the answerability gate on the ``tune`` split.

Both are logistic regressions (scikit-learn) over the features of
:mod:`rag.answer.ranker` and :mod:`rag.answer.gate`, computed by the same functions the
answer step calls, on the passages the service itself retrieves for each question:

- sentence ranker: one row per (question part, candidate sentence) of every answerable
  ``tune`` question; a sentence is positive when it holds one of the item's evidence
  quotes (:func:`holds_evidence`).
- gate: one row per ``tune`` question that retrieval lets through; positive when the
  question is answerable.
- thresholds: per mode, the highest gate threshold whose false-refusal rate on ``tune``
  stays within the mode's budget (:data:`FALSE_REFUSAL_BUDGET`).

``test`` rows are never fitted on: they are scored afterwards, and the report gives
every figure for both splits, with the gap. ``eval/train_evidence_ranker.py`` is the
command line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.answer.evidence import candidates, gate_input, part_features, select_evidence
from rag.answer.gate import GATE_FEATURES, gate_features
from rag.answer.ranker import FEATURES, LogisticModel, RankerModel, coverage
from rag.evaluation.dataset import evidence_quotes, is_answerable
from rag.evaluation.metrics.retrieval import longest_common_substring
from rag.text.normalize import compact, fold
from rag.text.sentences import sentence_spans

log = logging.getLogger(__name__)

# The gate refuses at most this share of answerable tune questions, per mode. The LLM
# modes get less: the model refuses some answerable questions on its own.
FALSE_REFUSAL_BUDGET = {"extractive": 0.06, "local": 0.03, "openai": 0.03}
REGULARISATION_C = 1.0
MIN_EVIDENCE_OVERLAP = 0.5
MIN_EVIDENCE_CHARS = 8


def holds_evidence(sentence: str, quotes: Sequence[str]) -> bool:
    """The sentence and a quote share a contiguous piece of at least half the shorter one."""
    s = compact(sentence)
    for quote in quotes:
        q = compact(quote)
        if not s or not q:
            continue
        common = longest_common_substring(s, q)
        if common >= MIN_EVIDENCE_CHARS and common >= MIN_EVIDENCE_OVERLAP * min(len(s), len(q)):
            return True
    return False


@dataclass
class QuestionData:
    """One question with what retrieval found for it (what both models train on)."""

    item: dict[str, Any]
    query: Any  # rag.query.Query
    passages: list[Any]  # ScoredChunk
    relevant: bool  # retrieval's own "anything relevant?" check passed
    sentences: list[list[str]] = field(default_factory=list)

    @property
    def split(self) -> str:
        return str(self.item.get("split", ""))


def collect(service: Any, items: Sequence[dict[str, Any]], k: int) -> list[QuestionData]:
    """Retrieve for every item exactly as the answer step does (extractive: no LLM rewrite)."""
    out = []
    for n, item in enumerate(items, start=1):
        found = service.retrieve(item["question"], item.get("history"), k=k, mode="extractive")
        passages = found.retrieval.results
        sentences = [[p.chunk.text[s:e] for s, e in sentence_spans(p.chunk.text)] for p in passages]
        out.append(QuestionData(item, found.query, passages, found.retrieval.confidence.relevant, sentences))
        if n % 100 == 0:
            log.info("retrieved %d/%d questions", n, len(items))
    return out


def quotes_by_part(query: Any, quotes: Sequence[str], idf: Any) -> list[list[str]]:
    """The evidence quotes of each part of the question: a compound question's quote goes
    to the part whose words it holds most (a sentence that answers the other part is not
    this part's answer); a simple question keeps them all."""
    focuses = query.focuses
    if len(focuses) < 2 or len(quotes) < 2:
        return [list(quotes) for _ in focuses]
    out: list[list[str]] = [[] for _ in focuses]
    for quote in quotes:
        norm = fold(quote)
        best = max(range(len(focuses)), key=lambda i: coverage(focuses[i], norm, idf))
        out[best].append(quote)
    # A part no quote went to is judged on all of them rather than on none.
    return [mine or list(quotes) for mine in out]


def sentence_rows(data: Sequence[QuestionData], idf: Any) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Feature rows, labels and a question-part group id for every candidate sentence."""
    xs, ys, groups = [], [], []
    for qn, q in enumerate(data):
        if not is_answerable(q.item) or not q.passages:
            continue
        found = candidates(q.sentences)
        part_quotes = quotes_by_part(q.query, evidence_quotes(q.item), idf)
        for pn, x in enumerate(part_features(q.query, q.passages, q.sentences, found, idf)):
            xs.append(x)
            ys.extend(holds_evidence(c.text, part_quotes[pn]) for c in found)
            groups.extend([qn * 100 + pn] * len(found))
    if not xs:
        return np.zeros((0, len(FEATURES))), np.zeros(0), np.zeros(0)
    return np.vstack(xs), np.asarray(ys, dtype=int), np.asarray(groups)


def fit_logistic(x: np.ndarray, y: np.ndarray, names: tuple[str, ...]) -> LogisticModel:
    from sklearn.linear_model import LogisticRegression

    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    model = LogisticRegression(C=REGULARISATION_C, max_iter=5000).fit((x - mean) / scale, y)
    return LogisticModel(names, model.coef_[0].copy(), float(model.intercept_[0]), mean, scale)


def top_hits(scores: np.ndarray, labels: np.ndarray, groups: np.ndarray) -> tuple[float, float, int]:
    """Share of question parts (with any evidence sentence) whose best / top-3 sentences hold evidence."""
    top1, top3 = [], []
    for g in np.unique(groups):
        sel = groups == g
        if not labels[sel].any():
            continue
        order = np.argsort(-scores[sel], kind="stable")
        ranked = labels[sel][order]
        top1.append(ranked[0])
        top3.append(ranked[:3].max())
    return (float(np.mean(top1)) if top1 else math.nan, float(np.mean(top3)) if top3 else math.nan, len(top1))


def gate_rows(data: Sequence[QuestionData], ranker: RankerModel, idf: Any, n_chunks: int) -> tuple[np.ndarray, np.ndarray, list[int]]:
    """Gate features and labels (answerable) for the questions retrieval lets through."""
    xs, ys, kept = [], [], []
    for i, q in enumerate(data):
        if not q.relevant or not q.passages or not candidates(q.sentences):
            continue
        evidence = select_evidence(q.query, q.passages, idf, ranker, n_chunks)
        xs.append(gate_features(gate_input(evidence), idf, n_chunks))
        ys.append(int(is_answerable(q.item)))
        kept.append(i)
    return (np.vstack(xs) if xs else np.zeros((0, len(GATE_FEATURES)))), np.asarray(ys, dtype=int), kept


def threshold_for(probabilities: np.ndarray, answerable: np.ndarray, budget: float) -> float:
    """The highest threshold that refuses at most ``budget`` of the answerable questions."""
    scores = np.sort(probabilities[answerable == 1])
    if not len(scores):
        return 0.0
    allowed = int(math.floor(budget * len(scores)))
    return float(scores[allowed]) if allowed < len(scores) else float(scores[-1])


def gate_rates(probabilities: np.ndarray, answerable: np.ndarray, threshold: float) -> dict[str, float]:
    refused = probabilities < threshold
    return {
        "refusal": float(refused[answerable == 0].mean()) if (answerable == 0).any() else math.nan,
        "false_refusal": float(refused[answerable == 1].mean()) if (answerable == 1).any() else math.nan,
    }


def dataset_digest(paths: Sequence[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16] for p in paths}


def train(data: Sequence[QuestionData], idf: Any, n_chunks: int, sources: dict[str, str]) -> tuple[RankerModel, dict[str, Any]]:
    """Fit both models on the tune rows of ``data``; figures for tune and test in the report."""
    tune = [q for q in data if q.split == "tune"]
    test = [q for q in data if q.split == "test"]
    x, y, groups = sentence_rows(tune, idf)
    sentence = fit_logistic(x, y, FEATURES)
    report: dict[str, Any] = {"sentence_rows": int(len(y)), "sentence_positives": int(y.sum())}
    for name, part in (("tune", tune), ("test", test)):
        px, py, pg = sentence_rows(part, idf)
        top1, top3, n = top_hits(sentence.probabilities(px), py, pg)
        report[f"{name}_sentence_top1"], report[f"{name}_sentence_top3"], report[f"{name}_parts"] = top1, top3, n
    ranker = RankerModel(sentence=sentence)
    gx, gy, _ = gate_rows(tune, ranker, idf, n_chunks)
    gate = fit_logistic(gx, gy, GATE_FEATURES)
    tune_p = gate.probabilities(gx)
    thresholds = {mode: threshold_for(tune_p, gy, budget) for mode, budget in FALSE_REFUSAL_BUDGET.items()}
    test_x, test_y, _ = gate_rows(test, ranker, idf, n_chunks)
    test_p = gate.probabilities(test_x)
    for mode, th in thresholds.items():
        for name, p, labels in (("tune", tune_p, gy), ("test", test_p, test_y)):
            for key, value in gate_rates(p, labels, th).items():
                report[f"{name}_gate_{mode}_{key}"] = value
    model = RankerModel(
        sentence=sentence,
        gate=gate,
        thresholds={**{m: round(t, 6) for m, t in thresholds.items()}, "default": round(thresholds["local"], 6)},
        trained_on={"split": "tune", "datasets": sources, "questions": len(tune)},
    )
    return model, report


def write_model(model: RankerModel, report: dict[str, Any], path: Path) -> None:
    data = {
        "about": "Learned by eval/train_evidence_ranker.py on the tune split; do not edit by hand.",
        "sentence": model.sentence.to_dict(),
        "gate": model.gate.to_dict() if model.gate else None,
        "thresholds": model.thresholds,
        "trained_on": model.trained_on,
        "report": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in report.items()},
    }
    tmp = path.with_suffix(".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
    tmp.replace(path)
