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
from rag.retrieve.fusion import round_robin
from rag.types import ScoredChunk

_QUESTION_NOISE = re.compile(r"[？?。！!，,]")
# Words that say what is asked, not about what ("哪一年", "多大", "具体说说"): an answer
# may use them freely, and a question made only of them names no topic.
QUESTION_WORDS = frozenset(
    "哪 哪个 哪家 哪些 哪里 哪儿 哪一年 哪年 一年 哪一天 一天 几 几个 几年 多大 多长 多久 多高 多快 "
    "一共 共 大约 大概 目前 现在 已经 分别 各 时候 什么样 名字 叫 谁 要求 怎么 怎么样 如何 为什么 为何 "
    "原因 方面 情况 主要 具体 详细 到底 最终 全年 累计 总共 比例 占比 规模 数量 "
    "介绍 一下 说 说说 讲讲 再 一点 然后 这样".split()
)
# A question asks for a figure or a date: a sentence without one cannot answer it.
_ASKS_FIGURE = re.compile(r"多少|多大|多长|多久|多高|多快|多远|比例|占比|哪一?年|哪一天|何时|什么时候|(?<!哪)几[个家条年月天倍人项次名片颗辆]")
_HAS_FIGURE = re.compile(r"\d|[一二两三四五六七八九十百千万亿半]+[个家条年月天倍人项次名成%％]")
# The unit a figure question expects ("多少家" wants "…家", "多久" a duration): a
# sentence with a figure in that unit is the likelier answer.
_ASKED_MEASURE_WORD = re.compile(r"(?:多少|几)(?:[万亿千百]|十万|百万|千万)?([个家条年月天倍人项次名辆台票元只座所件份艘位款])")
_ASKED_UNITS = [
    (re.compile(r"多长|多远"), r"公里|千米|米"),
    (re.compile(r"多久|多长时间"), r"秒|分钟|小时|天|周|个月|年"),
    (re.compile(r"多高|多大比例|比例|占比|百分之几|多少成"), r"%|％|成"),
    (re.compile(r"哪一?年"), r"年"),
]
# Where one question holds several ("…多少钱？比上年同期变化多大？", "…？又怎么…"),
# each part needs its own evidence.
_SUBQUESTION_BREAK = re.compile(r"(?<=[？?；;])|[，,](?=又|还有|以及|另外|同时|此外)")
# A sentence that announces a list ("主要发挥两大功能。", "有三个标志：") is answered
# by the sentence after it.
_LEAD_IN = re.compile(r"[：:]$|(两|三|四|五|六|几|以下|如下)(?:大|个|种|项|方面|点|类|条)[^，,。]{0,8}[。：:]?$")
# Sentences a lead-in brings: "两大…" two, "三/四/五/六/几…" at most three, "以下…：" or a bare "：" one.
_LIST_COUNTS = {"两": 2, "以下": 1, "如下": 1, None: 1}
MAX_LIST_ITEMS = 3
# An enumerated item ("一、…", "第一，…", "首先…") is followed by its siblings.
_FIRST_ITEM = re.compile(r"(?:^|[：:；;，,。])\s*(?:一、|第一[，,、]|首先[，,是])")
_NEXT_ITEM = re.compile(r"^\s*(?:[二三四五六]、|第[二三四五六][，,、]|其次|再次|最后|此外)")


@dataclass
class Sentence:
    passage: int  # 1-based position of the passage in the retrieved list
    index: int  # position of the sentence in its passage
    text: str
    score: float  # rank order
    # How well the sentence matches the question, without the preference for a
    # figure in the asked unit: what a "does anything answer this?" threshold reads.
    relevance: float


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
    return 0.7 * term_score + 0.3 * bigram_score


def split_subquestions(question: str) -> list[str]:
    """The parts of a compound question, or [question] when it asks one thing."""
    parts = [p.strip(" ，,") for p in _SUBQUESTION_BREAK.split(question)]
    parts = [p for p in parts if len(_QUESTION_NOISE.sub("", p)) >= 4]
    return parts if len(parts) > 1 else [question]


def list_length(sentence: str) -> int:
    """How many following sentences a lead-in sentence announces (0: not a lead-in)."""
    match = _LEAD_IN.search(sentence.rstrip("”’」』）)"))
    if not match:
        return 0
    return _LIST_COUNTS.get(match.group(1), MAX_LIST_ITEMS)


def is_lead_in(sentence: str) -> bool:
    return list_length(sentence) > 0


def rank_sentences(question: str, passages: list[ScoredChunk], idf: IdfTable, focus: str | None = None) -> list[Sentence]:
    """All sentences of the passages, best first (ties: earlier passage first).

    With ``focus`` (one part of a compound question) a sentence is scored on that
    part, with the whole question as context.
    """
    whole = _query_terms(question)
    part = _query_terms(focus) if focus and focus != question else None
    asks_figure = bool(_ASKS_FIGURE.search(focus or question))
    wanted_figure = expected_figure(focus or question)
    ranked: list[Sentence] = []
    for p, item in enumerate(passages, start=1):
        text = item.chunk.text
        for s, (start, end) in enumerate(split_sentences(text)):
            sentence = text[start:end]
            if len(sentence) < 6:
                continue
            score = score_sentence(*whole, sentence, idf)
            if part is not None:
                score = 0.6 * score_sentence(*part, sentence, idf) + 0.4 * score
            if asks_figure and not _HAS_FIGURE.search(sentence):
                score *= 0.75
            # A passage ranked higher by retrieval is more likely the right one.
            score *= 1.0 - 0.03 * (p - 1)
            boost = 1.25 if wanted_figure is not None and wanted_figure.search(sentence) else 1.0
            ranked.append(Sentence(passage=p, index=s, text=sentence, score=score * boost, relevance=score))
    ranked.sort(key=lambda x: (-x.score, x.passage, x.index))
    return ranked


def expected_figure(question: str) -> re.Pattern[str] | None:
    """A pattern for a figure in the unit the question asks for, if it names one."""
    units = [m.group(1) for m in _ASKED_MEASURE_WORD.finditer(question)]
    units += [pattern for asks, pattern in _ASKED_UNITS if asks.search(question)]
    if not units:
        return None
    return re.compile(rf"\d[\d.,]*\s*(?:[万亿千百])?(?:{'|'.join(units)})")


def ranked_per_part(question: str, passages: list[ScoredChunk], idf: IdfTable) -> list[list[Sentence]]:
    """One ranking per part of the question (a single ranking for a simple question)."""
    parts = split_subquestions(question)
    if len(parts) == 1:
        return [rank_sentences(question, passages, idf)]
    return [rank_sentences(question, passages, idf, focus=part) for part in parts]


def _interleave(rankings: list[list[Sentence]]) -> list[Sentence]:
    """Round-robin over the parts' rankings, so every part gets its best sentence early."""
    return round_robin(rankings, key=lambda sent: (sent.passage, sent.index))


def _query_terms(query: str) -> tuple[list[str], set[str]]:
    query = _QUESTION_NOISE.sub(" ", query)
    return tokenize(query), _bigrams(query)


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


def context_for_llm(
    question: str, passages: list[ScoredChunk], idf: IdfTable, budget_chars: int = 300, max_passages: int = 3
) -> list[tuple[int, str]]:
    """(passage number, excerpt) pairs: the best sentences, each with its list items or
    next sentence, within a budget.

    The excerpt of a passage keeps its sentences in their original order so the
    model reads coherent text.
    """
    ranked = _interleave(ranked_per_part(question, passages, idf))
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
        picks = chosen.get(sent.passage, set())
        # A sentence brings its list items, or else the next sentence, which often
        # finishes its thought.
        companions = list_items(sent.text, sent.index, sentences_of[sent.passage]) or [sent.index + 1]
        for idx in [sent.index, *companions]:
            if idx in picks or idx >= len(sentences_of[sent.passage]):
                continue
            length = len(sentences_of[sent.passage][idx])
            # Only the best sentence may overrun the budget: every character
            # costs prompt-reading time before the first answer token.
            if used + length > budget_chars and (idx != sent.index or used):
                continue
            picks.add(idx)
            used += length
        if picks:
            chosen[sent.passage] = picks
    excerpts: list[tuple[int, str]] = []
    for p in sorted(chosen):
        sentences = sentences_of[p]
        excerpts.append((p, "".join(sentences[i] for i in sorted(chosen[p]))))
    return excerpts
