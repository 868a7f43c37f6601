"""Pick the sentences of the retrieved passages that bear on the question.

Both answer modes read one :class:`Evidence`, built once per question by
:func:`select_evidence`: the extractive mode answers with the best sentences
(:mod:`rag.answer.extractive`), and the LLM modes send only them, with their
neighbours (:func:`context_for_llm`), because on a CPU every prompt token costs time
before the first answer token.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from rag.answer.gate import GateInput, gate_features
from rag.answer.lists import list_items
from rag.answer.ranker import Candidate, RankerModel, features, load_model
from rag.query import Query, Vocabulary
from rag.retrieve.fusion import round_robin
from rag.text.sentences import sentence_spans
from rag.types import ScoredChunk
from rag.verify.answerability import missing_specifics

MIN_SENTENCE_CHARS = 6


@dataclass
class Sentence:
    passage: int  # 1-based position of the passage in the retrieved list
    index: int  # position of the sentence in its passage
    text: str
    # The learned probability that the sentence holds the answer to its part of the
    # question (rag.answer.ranker): the rank order and what thresholds read.
    score: float


@dataclass
class Evidence:
    """The question's passages cut into sentences, and the sentences ranked per part."""

    query: Query
    passages: list[ScoredChunk]
    sentences: list[list[str]]  # sentences[p - 1]: the sentences of passage p
    rankings: list[list[Sentence]]  # one ranking per part (one for a simple question)
    # Probability that the passages answer the question at all (rag.answer.gate).
    answerable: float = 1.0
    # Names and days the question asks about that no passage contains (see absent_specifics).
    absent: list[str] = field(default_factory=list)

    def sentences_of(self, passage: int) -> list[str]:
        return self.sentences[passage - 1]

    def interleaved(self) -> list[Sentence]:
        """Round-robin over the parts' rankings, so every part gets its best sentence early."""
        return round_robin(self.rankings, key=lambda sent: (sent.passage, sent.index))

    def best_sentences(self, n: int = 3) -> list[Sentence]:
        """Each part's best sentence, then the next best overall, ``n`` at least."""
        firsts = [ranked[0] for ranked in self.rankings if ranked]
        seen = {(s.passage, s.index) for s in firsts}
        rest = [s for s in self.interleaved() if (s.passage, s.index) not in seen]
        return firsts + rest[: max(0, n - len(firsts))]


def candidates(sentences: list[list[str]]) -> list[Candidate]:
    """The sentences that may answer: long enough to say something, and not a piece of a
    sentence that another passage holds whole.

    Chunks overlap and are cut at their budget, so a passage may begin or end with a
    fragment ("……的态度已从") whose whole sentence is in the neighbouring chunk; a
    fragment quoted as an answer loses what it was cut from.
    """
    found = [
        Candidate(passage=p, index=i, text=text)
        for p, texts in enumerate(sentences, start=1)
        for i, text in enumerate(texts)
        if len(text) >= MIN_SENTENCE_CHARS
    ]
    edges = [c for c in found if c.index in (0, len(sentences[c.passage - 1]) - 1)]
    pieces = {
        (c.passage, c.index)
        for c in edges
        if any(o.passage != c.passage and len(o.text) > len(c.text) and c.text.strip() in o.text for o in found)
    }
    return [c for c in found if (c.passage, c.index) not in pieces]


def part_features(
    query: Query, passages: list[ScoredChunk], sentences: list[list[str]], found: list[Candidate], idf: Vocabulary
) -> list[np.ndarray]:
    """The ranker's feature matrix over :func:`candidates` for each part of the question
    (what training and answering both compute)."""
    titles = [p.chunk.title for p in passages]
    scores = [p.score for p in passages]
    return [features(focus or query, query, found, sentences, titles, scores, idf) for focus in query.focuses]


def select_evidence(
    query: Query, passages: list[ScoredChunk], idf: Vocabulary, model: RankerModel | None = None, n_chunks: int = 1
) -> Evidence:
    """Cut the passages into sentences, rank them for each part of the question with the
    learned ranker, and estimate whether they answer it at all.

    ``n_chunks`` is the size of the index (it scales the gate's rarity feature).
    """
    model = model or load_model()
    sentences = [[p.chunk.text[s:e] for s, e in sentence_spans(p.chunk.text)] for p in passages]
    found = candidates(sentences)
    rankings = []
    for x in part_features(query, passages, sentences, found, idf):
        probs = model.probabilities(x)
        ranked = [Sentence(c.passage, c.index, c.text, float(pr)) for c, pr in zip(found, probs)]
        ranked.sort(key=lambda s: (-s.score, s.passage, s.index))
        rankings.append(ranked)
    evidence = Evidence(query=query, passages=passages, sentences=sentences, rankings=rankings)
    if model.gate is not None and found:
        evidence.answerable = float(model.gate.probabilities(gate_features(gate_input(evidence), idf, n_chunks)[None, :])[0])
    evidence.absent = absent_specifics(query, passages)
    if evidence.absent:
        # Not a learned estimate: a question about a name or a day that no passage
        # mentions is about something the knowledge base does not hold.
        evidence.answerable = 0.0
    return evidence


def absent_specifics(query: Query, passages: list[ScoredChunk]) -> list[str]:
    """The names and days of a simple question that none of the passages (titles and
    bylines included: "林坚在文章中认为…" names the author) contains: a sibling entity's or
    another day's news, not this question's answer (see
    :func:`rag.verify.answerability.missing_specifics`)."""
    return missing_specifics(query, "".join(p.chunk.title + p.chunk.byline + p.chunk.text for p in passages))


def gate_input(evidence: Evidence) -> GateInput:
    best = evidence.best_sentences(3)
    firsts = [ranked[0].score for ranked in evidence.rankings if ranked]
    top = evidence.passages[best[0].passage - 1].chunk if best else None
    confidence_bm25 = max((p.bm25_score or 0.0 for p in evidence.passages), default=0.0)
    return GateInput(
        query=evidence.query,
        best_sentences=[s.text for s in best],
        best_probs=firsts,
        part_answers=[
            (focus or evidence.query, ranked[0].text) for focus, ranked in zip(evidence.query.focuses, evidence.rankings) if ranked
        ],
        top3_probs=[s.score for s in sorted(evidence.interleaved(), key=lambda s: -s.score)[:3]],
        best_passage=(top.title + top.text) if top else "",
        passages=[p.chunk.title + p.chunk.text for p in evidence.passages],
        bm25_top=confidence_bm25,
    )


def context_for_llm(evidence: Evidence, budget_chars: int = 300, max_passages: int = 3) -> list[tuple[int, str]]:
    """(passage number, excerpt) pairs: the best sentences, each with its list items or
    next sentence, within a budget.

    The excerpt of a passage keeps its sentences in their original order so the
    model reads coherent text.
    """
    chosen: dict[int, set[int]] = {}
    used = 0
    for sent in evidence.interleaved():
        if used >= budget_chars:
            break
        if sent.passage not in chosen and len(chosen) >= max_passages:
            continue
        picks = chosen.get(sent.passage, set())
        texts = evidence.sentences_of(sent.passage)
        # A sentence brings its list items, or else the next sentence, which often
        # finishes its thought.
        companions = list_items(sent.text, sent.index, texts) or [sent.index + 1]
        for idx in [sent.index, *companions]:
            if idx in picks or idx >= len(texts):
                continue
            length = len(texts[idx])
            # Only the best sentence may overrun the budget: every character
            # costs prompt-reading time before the first answer token.
            if used + length > budget_chars and (idx != sent.index or used):
                continue
            picks.add(idx)
            used += length
        if picks:
            chosen[sent.passage] = picks
    return [(p, "".join(evidence.sentences_of(p)[i] for i in sorted(chosen[p]))) for p in sorted(chosen)]
