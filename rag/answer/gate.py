"""Does the retrieved evidence answer the question at all? A learned, question-level gate.

Near misses are the hard refusals: the knowledge base holds same-topic passages, but
for another company, another year or another measure than the one asked. What gives
them away is the question's own specific words (``Query.terms``, the years it names)
that the best evidence does not contain, beside how well the best sentence scores.
The gate turns those signals into the probability that the question is answerable
with a logistic regression learned on the ``tune`` split
(``eval/train_evidence_ranker.py``, stored beside the sentence ranker's weights), and
both answer modes refuse below the mode's learned threshold before generating.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rag.index.tokenize import tokenize
from rag.answer.ranker import states_asked_figure
from rag.query import Query, QueryText, Vocabulary
from rag.text.normalize import compact
from rag.verify.answerability import missing_specifics

# The gate was learned on an index of ~800 chunks. On a handful of documents its inputs
# (how rare a missing word is, how the ranker's probabilities spread) mean something
# else, and it refused plain questions in tests; below this size only retrieval's own
# "nothing relevant" check refuses.
MIN_GATE_CHUNKS = 200

GATE_FEATURES: tuple[str, ...] = (
    "best_prob",  # the sentence ranker's probability for the best sentence (worst part of a compound question)
    "mean_top3_prob",  # mean probability of the three best sentences
    "missing_in_sentence",  # idf share of the question's specific terms absent from the best sentences
    "missing_in_passage",  # ... absent from the best sentence's passage (title included)
    "missing_anywhere",  # ... absent from every retrieved passage
    "max_missing_idf",  # the rarest specific term absent from the best passage (idf / log n)
    "year_missing",  # a year the question names is absent from the best passage
    "n_terms",  # how many specific terms the question has (log 1 + n)
    "figure_missing",  # a part asks for a figure and its best sentence holds none (a date does not count)
    "unit_missing",  # a part asks for a figure in a unit ("多少家") and its best sentence has none in it
    "missing_in_best",  # idf share of the specific terms absent from a part's single best sentence (worst part)
    "max_missing_idf_best",  # the rarest specific term absent from that sentence (idf / log n): the asked measure
    "names_apart",  # a simple question's names or days are in the passages, but not all in the best passage
)


def term_present(term: str, source: str) -> bool:
    """``term`` (compacted) is in ``source`` (compacted), whole or by one of its jieba sub-words
    of two characters or more (so "融资规模" is found through "规模")."""
    if term in source:
        return True
    return any(part in source for part in tokenize(term) if len(part) >= 2 and part != term)


@dataclass(frozen=True)
class GateInput:
    """What the gate reads for one question."""

    query: Query
    best_sentences: list[str]  # the best sentence of each part, then the runners-up (up to 3)
    best_probs: list[float]  # probability of each part's best sentence
    part_answers: list[tuple[QueryText, str]]  # each part (the question for a simple one) and its best sentence
    top3_probs: list[float]
    best_passage: str  # title + text of the best sentence's passage
    passages: list[str]  # title + text of every retrieved passage
    bm25_top: float


def _missing_share(terms: tuple[str, ...], source: str, idf: Vocabulary) -> float:
    weights = {t: idf.idf(t) for t in terms}
    total = sum(weights.values())
    if not total:
        return 0.0
    return sum(w for t, w in weights.items() if not term_present(t, source)) / total


def gate_features(data: GateInput, idf: Vocabulary, n_docs: int) -> np.ndarray:
    terms = data.query.terms
    sentence_text = compact("".join(data.best_sentences))
    passage_text = compact(data.best_passage)
    everywhere = compact("".join(data.passages))
    missing_in_passage = [t for t in terms if not term_present(t, passage_text)]
    years_missing = any(f"{y}" not in passage_text for y in data.query.years)
    log_n = math.log(max(n_docs, 2))
    # Each part's own best sentence, not the runners-up: "another measure" near misses have
    # the company and the period there, and the asked measure only in a weaker sentence.
    # (A part of a compound question is judged on the terms it holds itself.)
    best_missing, best_share = [], 0.0
    for part, text in data.part_answers:
        asked = tuple(t for t in terms if t in compact(part.text)) or terms
        text = compact(text)
        best_share = max(best_share, _missing_share(asked, text, idf))
        best_missing += [t for t in asked if not term_present(t, text)]
    return np.asarray(
        [
            min(data.best_probs, default=0.0),
            float(np.mean(data.top3_probs)) if data.top3_probs else 0.0,
            _missing_share(terms, sentence_text, idf),
            _missing_share(terms, passage_text, idf),
            _missing_share(terms, everywhere, idf),
            max((idf.idf(t) for t in missing_in_passage), default=0.0) / log_n,
            float(years_missing),
            math.log1p(len(terms)),
            float(any(part.asks_figure and not states_asked_figure(part, text) for part, text in data.part_answers)),
            float(any(part.wanted_figure is not None and not part.wanted_figure.search(text) for part, text in data.part_answers)),
            best_share,
            max((idf.idf(t) for t in best_missing), default=0.0) / log_n,
            # A simple question's names or days not all in the best passage (those that no
            # passage holds are refused before the gate: rag.answer.evidence.absent_specifics).
            float(bool(missing_specifics(data.query, passage_text))),
        ],
        dtype=np.float64,
    )
