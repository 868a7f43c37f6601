"""The no-LLM answer: the retrieved sentences that best answer the question, with citations.

It answers in milliseconds, and it is the fallback when the LLM endpoint is down.
"""

from __future__ import annotations

from rag.generate.evidence import IdfTable, rank_sentences
from rag.types import ScoredChunk

# Below this sentence score nothing retrieved answers the question (calibrated on
# eval/datasets/dev.jsonl: see `rag eval --mode extractive`).
MIN_SENTENCE_SCORE = 0.40
MAX_SENTENCES = 2


def extractive_answer(
    question: str, passages: list[ScoredChunk], idf: IdfTable, min_score: float = MIN_SENTENCE_SCORE
) -> str | None:
    """Best sentences with `[n]` markers (n = 1-based passage position), or None to refuse."""
    ranked = rank_sentences(question, passages, idf)
    if not ranked or ranked[0].score < min_score:
        return None
    best = ranked[0]
    chosen = [best]
    for sent in ranked[1:]:
        if len(chosen) >= MAX_SENTENCES or sent.score < 0.8 * best.score:
            break
        if sent.text != best.text:
            chosen.append(sent)
    # Keep the source order when both come from one passage: the text reads naturally.
    chosen.sort(key=lambda s: (s.passage != best.passage, s.passage, s.index))
    return "".join(f"{s.text}[{s.passage}]" for s in chosen)
