"""Pick the sentences of the retrieved passages that bear on the question.

Both answer modes use it: the extractive mode answers with the best sentences,
and the LLM modes send only them (with their neighbours) because on a CPU every
prompt token costs time before the first answer token.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rag.index.tokenize import tokenize
from rag.ingest.chunk import split_sentences
from rag.types import ScoredChunk

# Question words that carry no content: "多少", "哪些" … say what is asked, not about what.
_QUESTION_NOISE = re.compile(r"[？?。！!，,]")
_DIGITS = re.compile(r"\d")


@dataclass
class Sentence:
    passage: int  # 1-based position of the passage in the retrieved list
    index: int  # position of the sentence in its passage
    text: str
    score: float


class IdfTable:
    """Inverse document frequencies of the index's BM25 tokens, for weighting query terms."""

    def __init__(self, token_lists: list[list[str]]):
        self.n = max(len(token_lists), 1)
        df: Counter[str] = Counter()
        for tokens in token_lists:
            df.update(set(tokens))
        self.df = df

    def idf(self, token: str) -> float:
        return math.log(1 + (self.n - self.df.get(token, 0) + 0.5) / (self.df.get(token, 0) + 0.5))


def _bigrams(text: str) -> set[str]:
    text = unicodedata.normalize("NFKC", text)
    text = re.sub(r"\W", "", text)
    return {text[i : i + 2] for i in range(len(text) - 1)}


def score_sentence(query_tokens: list[str], query_bigrams: set[str], sentence: str, idf: IdfTable) -> float:
    """Share of the query's (idf-weighted) terms and character bigrams that the sentence holds."""
    if not query_tokens and not query_bigrams:
        return 0.0
    norm = unicodedata.normalize("NFKC", sentence).lower()
    weights = {t: idf.idf(t) for t in set(query_tokens)}
    total = sum(weights.values()) or 1.0
    term_score = sum(w for t, w in weights.items() if t in norm) / total
    bigram_score = len(query_bigrams & _bigrams(norm)) / max(len(query_bigrams), 1)
    score = 0.7 * term_score + 0.3 * bigram_score
    if _DIGITS.search(sentence):
        score += 0.02  # finance questions usually ask for a figure
    return score


def rank_sentences(question: str, passages: list[ScoredChunk], idf: IdfTable) -> list[Sentence]:
    """All sentences of the passages, best first (ties: earlier passage first)."""
    query = _QUESTION_NOISE.sub(" ", question)
    query_tokens = tokenize(query)
    query_bigrams = _bigrams(query)
    ranked: list[Sentence] = []
    for p, item in enumerate(passages, start=1):
        text = item.chunk.text
        for s, (start, end) in enumerate(split_sentences(text)):
            sentence = text[start:end]
            if len(sentence) < 6:
                continue
            score = score_sentence(query_tokens, query_bigrams, sentence, idf)
            # A passage ranked higher by retrieval is more likely the right one.
            score *= 1.0 - 0.03 * (p - 1)
            ranked.append(Sentence(passage=p, index=s, text=sentence, score=score))
    ranked.sort(key=lambda x: (-x.score, x.passage, x.index))
    return ranked


def context_for_llm(
    question: str, passages: list[ScoredChunk], idf: IdfTable, budget_chars: int = 300, max_passages: int = 3
) -> list[tuple[int, str]]:
    """(passage number, excerpt) pairs: the best sentences, each with its neighbours, within a budget.

    The excerpt of a passage keeps its sentences in their original order so the
    model reads coherent text.
    """
    ranked = rank_sentences(question, passages, idf)
    chosen: dict[int, set[int]] = {}
    sentences_of: dict[int, list[str]] = {}
    for p, item in enumerate(passages, start=1):
        text = item.chunk.text
        sentences_of[p] = [text[s:e] for s, e in split_sentences(text)]
    used = 0
    for sent in ranked:
        if used >= budget_chars:
            break
        if sent.passage not in chosen and len(chosen) >= max_passages:
            continue
        picks = chosen.setdefault(sent.passage, set())
        for idx in (sent.index, sent.index + 1):
            if idx in picks or idx >= len(sentences_of[sent.passage]):
                continue
            length = len(sentences_of[sent.passage][idx])
            if used + length > budget_chars and idx != sent.index:
                continue
            picks.add(idx)
            used += length
    excerpts: list[tuple[int, str]] = []
    for p in sorted(chosen):
        sentences = sentences_of[p]
        excerpts.append((p, "".join(sentences[i] for i in sorted(chosen[p]))))
    return excerpts
