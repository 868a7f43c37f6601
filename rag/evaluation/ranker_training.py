"""Learn the evidence ranker and the answerability gate on the ``tune`` split.

Both are logistic regressions (scikit-learn) over the features of
:mod:`rag.answer.ranker` and :mod:`rag.answer.gate`, computed by the same functions the
answer step calls, on the passages the service itself retrieves for each question:

- sentence ranker: one row per (question part, candidate sentence) of every answerable
  ``tune`` question; a sentence is positive when it holds one of the item's evidence
  quotes (:func:`holds_evidence`).
- gate: one row per ``tune`` question that retrieval lets through and the name/day check
  does not refuse already; positive when the question is answerable. Besides the bundled
  sets, other knowledge bases teach the gate (the real-news near misses of
  ``eval/datasets/news.jsonl``); their corpus is not in the repository, so their tune rows
  are committed (``eval/training_rows/``) and CI refits from them (:class:`FrozenRows`).
- thresholds: per mode, the highest gate threshold whose false-refusal rate on the ``tune``
  questions of every source (answerable questions refused before the gate included) stays
  within the mode's budget (:data:`FALSE_REFUSAL_BUDGET`).

``test`` rows are never fitted on: they are scored afterwards, and the report gives
every figure for both splits, with the gap. ``eval/train_evidence_ranker.py`` is the
command line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import re
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
THRESHOLD_FOLDS = 8
MIN_EVIDENCE_OVERLAP = 0.5
MIN_EVIDENCE_CHARS = 8
# Committed tune rows of the sources whose corpus is not in the repository (news).
ROWS_DIR = Path(__file__).resolve().parents[2] / "eval" / "training_rows"


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
    """Gate features and labels (answerable) for the questions the gate decides: those
    retrieval lets through and the name/day check (``Evidence.absent``) does not refuse."""
    xs, ys, kept = [], [], []
    for i, q in enumerate(data):
        if not q.relevant or not q.passages or not candidates(q.sentences):
            continue
        evidence = select_evidence(q.query, q.passages, idf, ranker, n_chunks)
        if evidence.absent:
            continue
        xs.append(gate_features(gate_input(evidence), idf, n_chunks))
        ys.append(int(is_answerable(q.item)))
        kept.append(i)
    return (np.vstack(xs) if xs else np.zeros((0, len(GATE_FEATURES)))), np.asarray(ys, dtype=int), kept


def threshold_for(probabilities: np.ndarray, answerable: np.ndarray, budget: float, n_answerable: int | None = None) -> float:
    """The highest threshold that refuses at most ``budget`` of the answerable questions.

    ``n_answerable`` counts every answerable question, also those refused before the gate
    (by retrieval or the name/day check): they spend the budget first.
    """
    scores = np.sort(probabilities[answerable == 1])
    if not len(scores):
        return 0.0
    total = max(n_answerable or 0, len(scores))
    allowed = max(int(math.floor(budget * total)) - (total - len(scores)), 0)
    return float(scores[allowed]) if allowed < len(scores) else float(scores[-1])


def source_threshold(sources: Sequence[tuple[np.ndarray, np.ndarray, int]], budget: float) -> float:
    """The highest threshold that keeps every source (knowledge base) within the budget on its
    own answerable questions: (probabilities, labels, answerable questions) per source."""
    return min(threshold_for(p, y, budget, n) for p, y, n in sources)


def gate_rates(probabilities: np.ndarray, answerable: np.ndarray, threshold: float) -> dict[str, float]:
    refused = probabilities < threshold
    return {
        "refusal": float(refused[answerable == 0].mean()) if (answerable == 0).any() else math.nan,
        "false_refusal": float(refused[answerable == 1].mean()) if (answerable == 1).any() else math.nan,
    }


def dataset_digest(paths: Sequence[Path]) -> dict[str, str]:
    return {str(p): hashlib.sha256(Path(p).read_bytes()).hexdigest()[:16] for p in paths}


@dataclass
class Source:
    """One knowledge base (its index's idf and size) with the eval questions asked of it."""

    name: str
    data: list[QuestionData]
    idf: Any
    n_chunks: int
    datasets: dict[str, str]  # dataset path -> digest

    def split(self, name: str) -> list[QuestionData]:
        return [q for q in self.data if q.split == name]


@dataclass
class FrozenRows:
    """The ``tune`` gate rows of a source that cannot be rebuilt here (its corpus is not in
    the repository), as :func:`source_rows` computed them and :func:`write_rows` stored them.

    Gate features read the sentence ranker's probabilities, so the rows hold only with the
    ranker named in ``ranker`` (the one the bundled sets teach; it is compared when loading).
    """

    name: str
    datasets: dict[str, str]
    n_chunks: int
    questions: int  # tune questions of the source (the gate sees those retrieval lets through)
    answerable: int  # of which answerable
    gate_x: np.ndarray
    gate_y: np.ndarray
    gate_ids: list[str]
    gate_groups: list[str]  # the question's article or news cluster (cross-validation folds)
    ranker: dict[str, Any] = field(default_factory=dict)


ROWS_VERSION = 1


def source_rows(source: Source, ranker: RankerModel) -> FrozenRows:
    """The tune gate rows of a live source, in the form :func:`write_rows` stores."""
    tune = source.split("tune")
    gx, gy, kept = gate_rows(tune, ranker, source.idf, source.n_chunks)
    return FrozenRows(
        name=source.name,
        datasets=source.datasets,
        n_chunks=source.n_chunks,
        questions=len(tune),
        answerable=sum(is_answerable(q.item) for q in tune),
        gate_x=gx,
        gate_y=gy,
        gate_ids=[str(tune[i].item["id"]) for i in kept],
        gate_groups=[question_group(tune[i].item) for i in kept],
        ranker=ranker.sentence.to_dict(),
    )


def write_rows(rows: FrozenRows, path: Path) -> None:
    data = {
        "about": "Tune gate rows of one eval source, written by eval/train_evidence_ranker.py; do not edit by hand.",
        "version": ROWS_VERSION,
        "name": rows.name,
        "split": "tune",
        "datasets": rows.datasets,
        "n_chunks": rows.n_chunks,
        "questions": rows.questions,
        "answerable": rows.answerable,
        "features": list(GATE_FEATURES),
        "ranker": rows.ranker,
        "rows": [
            {"id": i, "group": g, "answerable": int(y), "x": [round(float(v), 6) for v in x]}
            for i, g, x, y in zip(rows.gate_ids, rows.gate_groups, rows.gate_x, rows.gate_y)
        ],
    }
    tmp = path.with_suffix(".tmp")
    tmp.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(data, ensure_ascii=False, indent=1)
    # One row a line: readable, and a diff shows which questions moved.
    text = re.sub(r"\{\s+(\"id\": [^{}]*?)\s+\}", lambda m: "{" + re.sub(r"\s*\n\s*", " ", m.group(1)) + "}", text)
    tmp.write_text(text + "\n", encoding="utf-8")
    tmp.replace(path)


def read_rows(path: Path) -> FrozenRows:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("version") != ROWS_VERSION or tuple(data.get("features", ())) != GATE_FEATURES:
        raise ValueError(f"{path}: rows were computed for other gate features; re-run eval/train_evidence_ranker.py with this source")
    if data.get("split") != "tune":
        raise ValueError(f"{path}: only tune rows may be fitted on, not {data.get('split')!r}")
    rows = data["rows"]
    return FrozenRows(
        name=data["name"],
        datasets=data["datasets"],
        n_chunks=int(data["n_chunks"]),
        questions=int(data["questions"]),
        answerable=int(data["answerable"]),
        gate_x=np.asarray([r["x"] for r in rows], dtype=np.float64).reshape(-1, len(GATE_FEATURES)),
        gate_y=np.asarray([r["answerable"] for r in rows], dtype=int),
        gate_ids=[str(r["id"]) for r in rows],
        gate_groups=[str(r["group"]) for r in rows],
        ranker=data.get("ranker", {}),
    )


def score_source(model: RankerModel, source: Source, split: str) -> dict[str, float]:
    """The gate's refusal and false-refusal rates on one split of a source, per mode (rows
    the gate decides only), for the report of a source trained on through its frozen rows."""
    x, y, _ = gate_rows(source.split(split), model, source.idf, source.n_chunks)
    p = model.gate.probabilities(x) if model.gate else np.ones(len(y))
    return {
        f"{source.name}_{split}_gate_{mode}_{key}": value
        for mode in FALSE_REFUSAL_BUDGET
        for key, value in gate_rates(p, y, model.threshold(mode)).items()
    }


def _same_ranker(stored: dict[str, Any], fitted: LogisticModel, tolerance: float = 0.02) -> bool:
    """The stored ranker is the fitted one, to the last bits that differ between machines."""
    return tuple(stored.get("features", ())) == fitted.features and bool(
        np.allclose(stored["weights"], fitted.weights, atol=tolerance) and abs(stored["intercept"] - fitted.intercept) < tolerance
    )


def question_group(item: dict[str, Any]) -> str:
    """What a question's fold is: its news cluster, or its article (the splits are cut so)."""
    return str(item.get("cluster") or item.get("article") or item["id"])


def out_of_fold(x: np.ndarray, y: np.ndarray, groups: np.ndarray, folds: int = THRESHOLD_FOLDS) -> np.ndarray:
    """Each row's gate probability from a gate fitted on the other folds (grouped k-fold)."""
    from sklearn.model_selection import GroupKFold

    out = np.zeros(len(y))
    for fit, held in GroupKFold(n_splits=min(folds, len(set(groups)))).split(x, y, groups):
        out[held] = fit_logistic(x[fit], y[fit], GATE_FEATURES).probabilities(x[held])
    return out


def train(data: Sequence[QuestionData], idf: Any, n_chunks: int, sources: dict[str, str], frozen: Sequence[FrozenRows] = ()) -> tuple[RankerModel, dict[str, Any]]:
    """Fit both models on the tune rows of one live source (and any frozen ones)."""
    return train_sources([Source("bundled", list(data), idf, n_chunks, sources)], frozen)


def fit_ranker(live: Sequence[Source]) -> LogisticModel:
    """The sentence ranker, fitted on the tune rows of the live (bundled) sources."""
    rows = [sentence_rows(src.split("tune"), src.idf) for src in live]
    return fit_logistic(np.vstack([x for x, _, _ in rows]), np.concatenate([y for _, y, _ in rows]), FEATURES)


def train_sources(
    live: Sequence[Source], frozen: Sequence[FrozenRows] = (), sentence: LogisticModel | None = None
) -> tuple[RankerModel, dict[str, Any]]:
    """Fit both models on the tune rows of every source; figures for tune and test in the report.

    Live sources (the bundled sets, retrieved here) teach the sentence ranker and the gate;
    frozen ones (:class:`FrozenRows`, computed with the same ranker) teach the gate. Test
    rows of a live source are only scored, after both fits; a frozen source has none.
    ``sentence``: the ranker :func:`fit_ranker` already fitted on the same live sources.
    """
    frozen = list(frozen)
    rows = {name: [sentence_rows(src.split(name), src.idf) for src in live] for name in ("tune", "test")}
    y = np.concatenate([labels for _, labels, _ in rows["tune"]])
    if sentence is None:
        sentence = fit_logistic(np.vstack([x for x, _, _ in rows["tune"]]), y, FEATURES)
    report: dict[str, Any] = {"sentence_rows": int(len(y)), "sentence_positives": int(y.sum())}
    for name, parts in rows.items():
        px = np.vstack([x for x, _, _ in parts])
        py = np.concatenate([labels for _, labels, _ in parts])
        pg = np.concatenate([groups + n * 10**7 for n, (_, _, groups) in enumerate(parts)])  # one id space
        top1, top3, n_parts = top_hits(sentence.probabilities(px), py, pg)
        report[f"{name}_sentence_top1"], report[f"{name}_sentence_top3"], report[f"{name}_parts"] = top1, top3, n_parts
    ranker = RankerModel(sentence=sentence)
    gate_sets: dict[str, dict[str, tuple[np.ndarray, np.ndarray]]] = {"tune": {}, "test": {}}
    groups: list[str] = []
    for src in live:
        for name in ("tune", "test"):
            part = src.split(name)
            gx, gy, kept = gate_rows(part, ranker, src.idf, src.n_chunks)
            gate_sets[name][src.name] = (gx, gy)
            if name == "tune":
                groups += [f"{src.name}:{question_group(part[i].item)}" for i in kept]
    for rows in frozen:
        if rows.ranker and not _same_ranker(rows.ranker, sentence):
            raise ValueError(f"{rows.name}: its gate rows were computed with another sentence ranker; recompute them")
        gate_sets["tune"][rows.name] = (rows.gate_x, rows.gate_y)
        groups += [f"{rows.name}:{g}" for g in rows.gate_groups]
    gx = np.vstack([x for x, _ in gate_sets["tune"].values()])
    gy = np.concatenate([y for _, y in gate_sets["tune"].values()])
    gate = fit_logistic(gx, gy, GATE_FEATURES)
    # The thresholds read probabilities of rows the gate was not fitted on (out of fold, by
    # article or news cluster): in-sample ones flatter the answerable rows, and a threshold
    # set on them refuses more answerable questions on new ones.
    held_p = out_of_fold(gx, gy, np.asarray(groups))
    answerable = {src.name: sum(is_answerable(q.item) for q in src.split("tune")) for src in live}
    answerable.update({rows.name: rows.answerable for rows in frozen})
    per_source, start = [], 0
    for name, (x, y) in gate_sets["tune"].items():
        per_source.append((held_p[start : start + len(y)], y, answerable[name]))
        start += len(y)
    thresholds = {mode: source_threshold(per_source, budget) for mode, budget in FALSE_REFUSAL_BUDGET.items()}
    for mode, th in thresholds.items():
        for name, sets in gate_sets.items():
            for src_name, (x, labels) in sets.items():
                prefix = name if src_name == "bundled" else f"{src_name}_{name}"
                for key, value in gate_rates(gate.probabilities(x), labels, th).items():
                    report[f"{prefix}_gate_{mode}_{key}"] = value
    datasets = {k: v for src in live for k, v in src.datasets.items()}
    for rows in frozen:
        datasets.update(rows.datasets)
    model = RankerModel(
        sentence=sentence,
        gate=gate,
        thresholds={**{m: round(t, 6) for m, t in thresholds.items()}, "default": round(thresholds["local"], 6)},
        trained_on={
            "split": "tune",
            "datasets": dict(sorted(datasets.items())),
            "questions": sum(len(src.split("tune")) for src in live) + sum(r.questions for r in frozen),
            "frozen_rows": sorted(r.name for r in frozen),
        },
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
