"""Which sentences of the retrieved passages answer the question: a learned ranker.

Every candidate sentence gets a vector of signals that carry to new questions (how much
of the question it holds by rare words and by characters, sentence-level BM25, its
passage's retrieval rank and score, its neighbours, whether it holds a figure when one is
asked), and a logistic regression turns them into the probability that the sentence
holds the answer. The weights are learned on the ``tune`` split of ``eval/datasets``
by ``eval/train_evidence_ranker.py`` and stored in ``rag/answer/data/evidence_ranker.json``;
nothing here is fitted by hand.

The same file carries the learned answerability threshold of each mode (see
:class:`RankerModel`): below it the best sentence is not taken to answer the question.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from rag.answer.lists import list_length
from rag.query import QueryText, Vocabulary
from rag.text.normalize import char_ngrams, fold, word_chars

MODEL_FILE = Path(__file__).with_name("data") / "evidence_ranker.json"

# Digits, or a Chinese numeral with a counter or unit ("三家", "三千亩", "两成"), or a
# numeral with a power of ten ("三千", "十万").
_HAS_FIGURE = re.compile(
    r"\d|[一二两三四五六七八九十百千万亿半]+[个家条年月天倍人项次名成%％亩吨米元辆台座户位部只件股张份公里斤]"
    r"|[一二两三四五六七八九十][十百千万亿]"
)


def has_figure(text: str) -> bool:
    """The text states a figure (digits, or a Chinese numeral with a counter)."""
    return bool(_HAS_FIGURE.search(text))


# A question asking "how much" is not answered by a date, which only places a fact in time,
# nor by a stock code: a year (a 19xx/20xx before 年 or a date separator, or standing alone:
# "1996笔" is a count), a month or a month range, a day, a code such as "(600000.SH)".
_DATE_OR_CODE = re.compile(
    r"(?<![\d.])(?:19|20)\d\d(?:[-/]\d{1,2}(?:[-/]\d{1,2})?|\.\d{1,2}\.\d{1,2})(?![\d.])"
    r"|(?<![\d.])(?:19|20)\d\d(?=\s*年|[^\d.%％\w]|\.(?!\d)|$)"
    r"|(?<![\d.])\d{1,2}\s*(?:[—\-－~～至到]\s*\d{1,2}\s*)?月"
    r"|(?<![\d.])\d{1,2}\s*[日号]"
    r"|\d{6}\.(?:SH|SZ|BJ|sh|sz|bj)|[（(]\s*\d{6}\s*[）)]"
)
# A date: a year, a month, a day, or words that place a time ("今年", "年底", "下半年", "三季度").
_A_DATE = re.compile(
    r"(?:19|20)\d\d\s*年|\d{1,2}\s*月|\d{1,2}\s*[日号]|(?:19|20)\d\d[-/.]\d"
    r"|[今去前明本]年|年[初底末中]|[上下]半年|[一二三四1-4]季度|[上中下]旬|月[初底末中]"
)


def states_asked_figure(focus: QueryText, text: str) -> bool:
    """``text`` states a figure that could answer ``focus`` (which asks for one): asked when,
    a date; asked how much, a figure (:func:`has_figure`) other than a date, a stock code or
    one of the question's own numbers ("书生·浦语2.0")."""
    if focus.asks_when:
        return _A_DATE.search(text) is not None
    for number in focus.numbers:
        text = re.sub(rf"(?<![\d.]){re.escape(number)}(?![\d.])", " ", text)
    return has_figure(_DATE_OR_CODE.sub(" ", text))


# BM25 over the candidate sentences (the usual constants; the idf is the index's).
_K1, _B = 1.2, 0.75

FEATURES: tuple[str, ...] = (
    "term_focus",  # idf-weighted share of the asked part's words the sentence holds
    "bigram_focus",  # share of the asked part's character bigrams
    "term_rest",  # for one part of a compound question: the whole question's word share beyond the part's (0 otherwise)
    "bm25_rel",  # sentence BM25 over the candidates, relative to the best candidate
    "term_rel",  # term_focus relative to the best candidate
    "rank_inv",  # 1 / the passage's retrieval rank
    "passage_rel",  # the passage's fused score relative to the top passage
    "neighbour",  # the better term_focus of the previous and the next sentence
    "title_term",  # idf-weighted share of the asked part's words in the passage title
    "figure_missing",  # a figure is asked and the sentence has none (a date does not count)
    "unit_match",  # the sentence holds a figure in the asked unit
    "log_len",  # log of the sentence length in characters
    "is_question",  # the sentence is itself a question (an interviewer's)
    "lead_in",  # the sentence announces a list ("有三个方面：")
)


@dataclass(frozen=True)
class Candidate:
    """One sentence of one retrieved passage."""

    passage: int  # 1-based position of the passage in the retrieved list
    index: int  # position of the sentence in its passage
    text: str


@dataclass(frozen=True)
class LogisticModel:
    """A logistic regression over standardised features, as fitted by scikit-learn."""

    features: tuple[str, ...]
    weights: np.ndarray
    intercept: float
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def from_dict(cls, data: dict, expected: tuple[str, ...], path: Path) -> LogisticModel:
        names = tuple(data["features"])
        if names != expected:
            raise ValueError(
                f"{path}: 模型特征与代码不一致，请运行 eval/train_evidence_ranker.py 重新训练 "
                f"(features {names} differ from the code's {expected})"
            )
        return cls(
            features=names,
            weights=np.asarray(data["weights"], dtype=np.float64),
            intercept=float(data["intercept"]),
            mean=np.asarray(data["mean"], dtype=np.float64),
            scale=np.asarray(data["scale"], dtype=np.float64),
        )

    def to_dict(self) -> dict:
        return {
            "features": list(self.features),
            "weights": [round(float(w), 6) for w in self.weights],
            "intercept": round(float(self.intercept), 6),
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(v), 6) for v in self.scale],
        }

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        if not len(x):
            return np.zeros(0)
        z = ((x - self.mean) / self.scale) @ self.weights + self.intercept
        return 1.0 / (1.0 + np.exp(-z))


@dataclass(frozen=True)
class RankerModel:
    """The sentence ranker, the answerability gate, and each mode's gate threshold."""

    sentence: LogisticModel
    gate: LogisticModel | None = None
    # Least gate probability for a question to be answered, by mode ("default" for the rest).
    thresholds: dict[str, float] = field(default_factory=dict)
    trained_on: dict = field(default_factory=dict)

    @classmethod
    def load(cls, path: Path = MODEL_FILE) -> RankerModel:
        from rag.answer.gate import GATE_FEATURES

        path = Path(path)
        data = json.loads(path.read_text(encoding="utf-8"))
        gate = data.get("gate")
        return cls(
            sentence=LogisticModel.from_dict(data["sentence"], FEATURES, path),
            gate=LogisticModel.from_dict(gate, GATE_FEATURES, path) if gate else None,
            thresholds={k: float(v) for k, v in data.get("thresholds", {}).items()},
            trained_on=data.get("trained_on", {}),
        )

    def probabilities(self, x: np.ndarray) -> np.ndarray:
        return self.sentence.probabilities(x)

    def threshold(self, mode: str) -> float:
        """The gate threshold of ``mode``; 0 (answer everything) when none was learned."""
        return self.thresholds.get(mode, self.thresholds.get("default", 0.0))


@lru_cache(maxsize=4)
def load_model(path: Path = MODEL_FILE) -> RankerModel:
    return RankerModel.load(path)


def coverage(query: QueryText, norm: str, idf: Vocabulary) -> float:
    weights = {t: idf.idf(t) for t in set(query.tokens)}
    total = sum(weights.values())
    return sum(w for t, w in weights.items() if t in norm) / total if total else 0.0


def _bigram_share(query: QueryText, norm: str) -> float:
    if not query.bigrams:
        return 0.0
    return len(query.bigrams & char_ngrams(word_chars(norm), 2)) / len(query.bigrams)


def _bm25(query: QueryText, norms: Sequence[str], idf: Vocabulary) -> list[float]:
    """BM25 of each candidate sentence, term frequency counted by substring occurrences."""
    if not norms:
        return []
    avg = sum(len(n) for n in norms) / len(norms) or 1.0
    terms = set(query.tokens)
    scores = []
    for norm in norms:
        score = 0.0
        for term in terms:
            tf = norm.count(term)
            if tf:
                score += idf.idf(term) * tf * (_K1 + 1) / (tf + _K1 * (1 - _B + _B * len(norm) / avg))
        scores.append(score)
    return scores


def features(
    focus: QueryText,
    whole: QueryText,
    candidates: Sequence[Candidate],
    sentences: Sequence[Sequence[str]],
    titles: Sequence[str],
    passage_scores: Sequence[float],
    idf: Vocabulary,
) -> np.ndarray:
    """The feature matrix (len(candidates) × len(FEATURES)) for one asked part."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    norms = [fold(c.text) for c in candidates]
    term = [coverage(focus, n, idf) for n in norms]
    bm25 = _bm25(focus, norms, idf)
    best_bm25 = max(bm25) or 1.0
    best_term = max(term) or 1.0
    top_score = max(passage_scores[0], 1e-9) if passage_scores else 1.0
    by_place = {(c.passage, c.index): t for c, t in zip(candidates, term)}
    title_cov = [coverage(focus, fold(t), idf) for t in titles]
    rows = []
    for c, norm, t, b in zip(candidates, norms, term, bm25):
        texts = sentences[c.passage - 1]
        neighbours = [
            by_place.get((c.passage, i), coverage(focus, fold(texts[i]), idf))
            for i in (c.index - 1, c.index + 1)
            if 0 <= i < len(texts)
        ]
        stripped = c.text.rstrip("”’」』）) ")
        rows.append(
            (
                t,
                _bigram_share(focus, norm),
                # Kept apart from term_focus: for a simple question the two would be one column,
                # and the fit could not tell "matches this part" from "matches the question".
                coverage(whole, norm, idf) - t if whole is not focus else 0.0,
                b / best_bm25,
                t / best_term,
                1.0 / c.passage,
                max(passage_scores[c.passage - 1], 0.0) / top_score if passage_scores else 0.0,
                max(neighbours, default=0.0),
                title_cov[c.passage - 1],
                float(focus.asks_figure and not states_asked_figure(focus, c.text)),
                float(focus.wanted_figure is not None and bool(focus.wanted_figure.search(c.text))),
                math.log(max(len(c.text), 1)),
                float(stripped.endswith(("？", "?"))),
                float(list_length(c.text) > 0),
            )
        )
    return np.asarray(rows, dtype=np.float64)
