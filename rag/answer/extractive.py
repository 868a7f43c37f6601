"""The no-LLM answer: the retrieved sentences that best answer the question, with citations.

It answers in milliseconds, and it is the fallback when the LLM endpoint is down.
"""

from __future__ import annotations

from rag.answer.evidence import Evidence, Sentence, list_items
from rag.text.markers import marker

# Below this sentence score nothing retrieved answers the question (calibrated on
# eval/datasets/dev.jsonl: see `rag eval --mode extractive`).
MIN_SENTENCE_SCORE = 0.35
MAX_SENTENCES_PER_PART = 2
# A runner-up sentence joins the answer only when it scores close to the best one.
RUNNER_UP_RATIO = 0.8


def extractive_answer(evidence: Evidence, min_score: float = MIN_SENTENCE_SCORE) -> str | None:
    """Best sentences with `[n]` markers (n = 1-based passage position), or None to refuse.

    Each part of a compound question contributes its own best sentence(s); a sentence
    that only announces a list ("……主要发挥两大功能。") brings the items after it.
    """
    # A question quoted from an interview ("……发挥哪些作用？") is not an answer.
    rankings = [[s for s in ranked if not s.text.endswith(("？", "?"))] for ranked in evidence.rankings]
    if not any(rankings) or max(r[0].relevance for r in rankings if r) < min_score:
        return None
    chosen: dict[tuple[int, int], Sentence] = {}
    for ranked in rankings:
        if not ranked or ranked[0].relevance < min_score:
            continue
        best = ranked[0]
        picks = [best]
        for sent in ranked[1:]:
            if len(picks) >= MAX_SENTENCES_PER_PART or sent.score < RUNNER_UP_RATIO * best.score:
                break
            picks.append(sent)
        for sent in picks:
            chosen.setdefault((sent.passage, sent.index), sent)
    _add_list_bodies(chosen, evidence)
    ordered = list(chosen.values())
    # Source order within a passage reads naturally; the best passage comes first.
    first = ordered[0].passage
    ordered.sort(key=lambda s: (s.passage != first, s.passage, s.index))
    return "".join(f"{s.text}{marker(s.passage)}" for s in ordered)


def _add_list_bodies(chosen: dict[tuple[int, int], Sentence], evidence: Evidence) -> None:
    """Add the items a lead-in or a first item announces (see :func:`list_items`)."""
    for sent in list(chosen.values()):
        sentences = evidence.sentences_of(sent.passage)
        for nxt in list_items(sent.text, sent.index, sentences):
            chosen.setdefault((sent.passage, nxt), Sentence(sent.passage, nxt, sentences[nxt], sent.score, sent.relevance))
