"""The no-LLM answer: the retrieved sentences that best answer the question, with citations.

It answers in milliseconds, and it is the fallback when the LLM endpoint is down.
"""

from __future__ import annotations

from rag.generate.evidence import IdfTable, Sentence, is_lead_in, ranked_per_part
from rag.ingest.chunk import split_sentences
from rag.types import ScoredChunk

# Below this sentence score nothing retrieved answers the question (calibrated on
# eval/datasets/dev.jsonl: see `rag eval --mode extractive`).
MIN_SENTENCE_SCORE = 0.35
MAX_SENTENCES_PER_PART = 2
# A runner-up sentence joins the answer only when it scores close to the best one.
RUNNER_UP_RATIO = 0.8


def extractive_answer(
    question: str, passages: list[ScoredChunk], idf: IdfTable, min_score: float = MIN_SENTENCE_SCORE
) -> str | None:
    """Best sentences with `[n]` markers (n = 1-based passage position), or None to refuse.

    Each part of a compound question contributes its own best sentence(s); a sentence
    that only announces a list ("……主要发挥两大功能。") brings the sentence after it.
    """
    # A question quoted from an interview ("……发挥哪些作用？") is not an answer.
    rankings = [[s for s in ranked if not s.text.endswith(("？", "?"))] for ranked in ranked_per_part(question, passages, idf)]
    if not any(rankings) or max(r[0].score for r in rankings if r) < min_score:
        return None
    chosen: list[Sentence] = []
    for ranked in rankings:
        if not ranked:
            continue
        best = ranked[0]
        if best.score < min_score:
            continue
        picks = [best]
        for sent in ranked[1:]:
            if len(picks) >= MAX_SENTENCES_PER_PART or sent.score < RUNNER_UP_RATIO * best.score:
                break
            picks.append(sent)
        for sent in picks:
            if not any((c.passage, c.index) == (sent.passage, sent.index) for c in chosen):
                chosen.append(sent)
    chosen = _with_list_bodies(chosen, passages)
    # Source order within a passage reads naturally; the best passage comes first.
    first = chosen[0].passage
    chosen.sort(key=lambda s: (s.passage != first, s.passage, s.index))
    return "".join(f"{s.text}[{s.passage}]" for s in chosen)


def _with_list_bodies(chosen: list[Sentence], passages: list[ScoredChunk]) -> list[Sentence]:
    """Add the items a lead-in announces: as many sentences as it counts (at most 3)."""
    extended = list(chosen)
    for sent in chosen:
        count = list_length(sent.text)
        if not count:
            continue
        text = passages[sent.passage - 1].chunk.text
        spans = split_sentences(text)
        for nxt in range(sent.index + 1, min(sent.index + 1 + count, len(spans))):
            if not any((c.passage, c.index) == (sent.passage, nxt) for c in extended):
                start, end = spans[nxt]
                extended.append(Sentence(passage=sent.passage, index=nxt, text=text[start:end], score=sent.score))
    return extended


_COUNTS = {"两": 2, "二": 2, "三": 3, "四": 3, "五": 3, "六": 3, "几": 3}


def list_length(sentence: str) -> int:
    """How many following sentences a lead-in sentence announces (0: not a lead-in)."""
    if not is_lead_in(sentence):
        return 0
    for word, count in _COUNTS.items():
        if f"{word}大" in sentence or f"{word}个" in sentence or f"{word}种" in sentence or f"{word}项" in sentence:
            return count
    return 1
