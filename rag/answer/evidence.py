"""Pick the sentences of the retrieved passages that bear on the question.

Both answer modes read one :class:`Evidence`, built once per question by
:func:`select_evidence`: the extractive mode answers with the best sentences
(:mod:`rag.answer.extractive`), and the LLM modes send only them, with their
neighbours (:func:`context_for_llm`), because on a CPU every prompt token costs time
before the first answer token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from rag.query import Query, QueryText, Vocabulary
from rag.retrieve.fusion import round_robin
from rag.text.normalize import char_ngrams, fold, word_chars
from rag.text.sentences import sentence_spans
from rag.types import ScoredChunk

_HAS_FIGURE = re.compile(r"\d|[一二两三四五六七八九十百千万亿半]+[个家条年月天倍人项次名成%％]")
# A sentence that announces a list ("主要发挥两大功能。", "有三个标志：") is answered
# by the sentence after it.
_LEAD_IN = re.compile(r"[：:]$|(两|三|四|五|六|几|以下|如下)(?:大|个|种|项|方面|点|类|条)[^，,。]{0,8}[。：:]?$")
# Sentences a lead-in brings: "两大…" two, "三/四/五/六/几…" at most three, "以下…：" or a bare "：" one.
_LIST_COUNTS = {"两": 2, "以下": 1, "如下": 1, None: 1}
MAX_LIST_ITEMS = 3
# An enumerated item ("一、…", "第一，…", "首先…") is followed by its siblings.
_FIRST_ITEM = re.compile(r"(?:^|[：:；;，,。])\s*(?:一、|第一[，,、]|首先[，,是])")
_NEXT_ITEM = re.compile(r"^\s*(?:[二三四五六]、|第[二三四五六][，,、]|其次|再次|最后|此外)")
MIN_SENTENCE_CHARS = 6


@dataclass
class Sentence:
    passage: int  # 1-based position of the passage in the retrieved list
    index: int  # position of the sentence in its passage
    text: str
    score: float  # rank order
    # How well the sentence matches the question, without the preference for a
    # figure in the asked unit: what a "does anything answer this?" threshold reads.
    relevance: float


@dataclass
class Evidence:
    """The question's passages cut into sentences, and the sentences ranked per part."""

    query: Query
    passages: list[ScoredChunk]
    sentences: list[list[str]]  # sentences[p - 1]: the sentences of passage p
    rankings: list[list[Sentence]]  # one ranking per part (one for a simple question)

    def sentences_of(self, passage: int) -> list[str]:
        return self.sentences[passage - 1]

    def interleaved(self) -> list[Sentence]:
        """Round-robin over the parts' rankings, so every part gets its best sentence early."""
        return round_robin(self.rankings, key=lambda sent: (sent.passage, sent.index))


def score_sentence(query: QueryText, sentence: str, idf: Vocabulary) -> float:
    """Share of the query's (idf-weighted) terms and character bigrams that the sentence holds."""
    if not query.tokens and not query.bigrams:
        return 0.0
    norm = fold(sentence)
    weights = {t: idf.idf(t) for t in set(query.tokens)}
    total = sum(weights.values()) or 1.0
    term_score = sum(w for t, w in weights.items() if t in norm) / total
    bigram_score = len(query.bigrams & char_ngrams(word_chars(norm), 2)) / max(len(query.bigrams), 1)
    return 0.7 * term_score + 0.3 * bigram_score


def rank_sentences(
    query: Query, passages: list[ScoredChunk], sentences: list[list[str]], idf: Vocabulary, focus: QueryText | None = None
) -> list[Sentence]:
    """All sentences of the passages, best first (ties: earlier passage first).

    With ``focus`` (one part of a compound question) a sentence is scored on that
    part, with the whole question as context.
    """
    asking = focus or query
    ranked: list[Sentence] = []
    for p, texts in enumerate(sentences, start=1):
        for s, sentence in enumerate(texts):
            if len(sentence) < MIN_SENTENCE_CHARS:
                continue
            score = score_sentence(query, sentence, idf)
            if focus is not None:
                score = 0.6 * score_sentence(focus, sentence, idf) + 0.4 * score
            if asking.asks_figure and not _HAS_FIGURE.search(sentence):
                score *= 0.75
            # A passage ranked higher by retrieval is more likely the right one.
            score *= 1.0 - 0.03 * (p - 1)
            wanted = asking.wanted_figure
            boost = 1.25 if wanted is not None and wanted.search(sentence) else 1.0
            ranked.append(Sentence(passage=p, index=s, text=sentence, score=score * boost, relevance=score))
    ranked.sort(key=lambda x: (-x.score, x.passage, x.index))
    return ranked


def select_evidence(query: Query, passages: list[ScoredChunk], idf: Vocabulary) -> Evidence:
    """Cut the passages into sentences and rank them for each part of the question."""
    sentences = [[p.chunk.text[s:e] for s, e in sentence_spans(p.chunk.text)] for p in passages]
    rankings = [rank_sentences(query, passages, sentences, idf, focus) for focus in query.focuses]
    return Evidence(query=query, passages=passages, sentences=sentences, rankings=rankings)


def list_length(sentence: str) -> int:
    """How many following sentences a lead-in sentence announces (0: not a lead-in)."""
    match = _LEAD_IN.search(sentence.rstrip("”’」』）)"))
    if not match:
        return 0
    return _LIST_COUNTS.get(match.group(1), MAX_LIST_ITEMS)


def list_items(sentence: str, index: int, sentences: list[str]) -> list[int]:
    """Positions of the list items that ``sentences[index]`` announces: the items after
    a lead-in ("主要有两点。"), or the siblings of a first item ("一、…" → "二、…")."""
    count = list_length(sentence)
    if count:
        return list(range(index + 1, min(index + 1 + count, len(sentences))))
    if _FIRST_ITEM.search(sentence):
        following = range(index + 1, min(index + 1 + 2 * MAX_LIST_ITEMS, len(sentences)))
        return [i for i in following if _NEXT_ITEM.search(sentences[i])][:MAX_LIST_ITEMS]
    return []


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
