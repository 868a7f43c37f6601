"""The no-LLM answer: the retrieved sentences that best answer the question, with citations.

It answers in milliseconds, and it is the fallback when the LLM endpoint is down. It
reads the same :class:`Evidence` as the LLM modes: it refuses when the learned gate
says the passages do not answer the question, and otherwise quotes each part's best
sentence (trimmed to the clauses that answer when the sentence is long).
"""

from __future__ import annotations

import re

from rag.answer.evidence import Evidence, Sentence
from rag.answer.lists import list_items
from rag.answer.ranker import states_asked_figure
from rag.query import QueryText
from rag.text.markers import marker
from rag.text.normalize import fold
from rag.wordlists import load

MAX_SENTENCES_PER_PART = 2
# A runner-up sentence joins the answer only when the ranker gives it nearly the best one's chance.
RUNNER_UP_RATIO = 0.8
# How far down its ranking a part whose best sentence another part took looks for its own.
MAX_PART_CANDIDATES = 3
# A sentence longer than this is cut to its answering clauses; a short one reads better whole.
TRIM_ABOVE_CHARS = 150
TRIM_TO_CHARS = 100
_CLAUSE_END = re.compile(r"(?<=[，,；;])")
# Words that ask why or how, and words that give a reason (rag/wordlists/).
_ASKS_WHY_OR_HOW = load("why_how")
_GIVES_REASON = load("reason_markers")


def extractive_answer(evidence: Evidence, threshold: float = 0.0) -> str | None:
    """Best sentences with `[n]` markers (n = 1-based passage position), or None to refuse.

    ``threshold`` is the gate's least probability that the passages answer the question
    (learned per mode, :meth:`rag.answer.ranker.RankerModel.threshold`). Each part of a
    compound question contributes its own best sentence(s); a sentence that only
    announces a list ("……主要发挥两大功能。") brings the items after it.
    """
    # A question quoted from an interview ("……发挥哪些作用？") is not an answer.
    rankings = [[s for s in ranked if not s.text.endswith(("？", "?"))] for ranked in evidence.rankings]
    if not any(rankings) or evidence.answerable < threshold:
        return None
    chosen: dict[tuple[int, int], Sentence] = {}
    focuses = evidence.query.focuses
    trims: dict[tuple[int, int], QueryText] = {}
    for focus, ranked, best in zip(focuses, rankings, _part_tops(focuses, rankings)):
        if best is None:
            continue
        if focus is not None and (best.passage, best.index) in chosen:
            # An earlier part's runner-up, or a sentence serving both: this part gets one of
            # its own when one holds more of this part's words (the parts ask different things).
            best = _most_own_words(focus, ranked)
        picks = [best]
        for sent in ranked[ranked.index(best) + 1 :]:
            if len(picks) >= MAX_SENTENCES_PER_PART or sent.score < RUNNER_UP_RATIO * best.score:
                break
            picks.append(sent)
        for sent in picks:
            chosen.setdefault((sent.passage, sent.index), sent)
            trims.setdefault((sent.passage, sent.index), focus or evidence.query)
    _add_reasons(chosen, evidence)
    _add_list_bodies(chosen, evidence)
    ordered = list(chosen.values())
    # Source order within a passage reads naturally; the best passage comes first.
    first = ordered[0].passage
    ordered.sort(key=lambda s: (s.passage != first, s.passage, s.index))
    parts = []
    for s in ordered:
        focus = trims.get((s.passage, s.index))
        text = trim_to_clauses(s.text, focus) if focus is not None else s.text
        parts.append(f"{text}{marker(s.passage)}")
    return "".join(parts)


def _part_tops(focuses: list[QueryText | None], rankings: list[list[Sentence]]) -> list[Sentence | None]:
    """The top of each part's ranking; where two parts top with the same sentence (the
    ranker reads the whole question too, so the answer to "…又有多少？" can top the part
    before it as well), the part holding fewer of its own words in it (the later on a tie)
    takes instead, of its first :data:`MAX_PART_CANDIDATES`, the one holding most of them,
    which may still be the shared sentence."""
    tops = [ranked[0] if ranked else None for ranked in rankings]
    for i, j in ((i, j) for j in range(len(tops)) for i in range(j)):
        earlier, later = tops[i], tops[j]
        if earlier is None or later is None or (earlier.passage, earlier.index) != (later.passage, later.index):
            continue
        part_i, part_j = focuses[i], focuses[j]
        assert part_i is not None and part_j is not None  # several rankings: one per part
        if _part_match(part_i, later.text) < _part_match(part_j, later.text):
            tops[i] = _most_own_words(part_i, rankings[i])
        else:
            tops[j] = _most_own_words(part_j, rankings[j])
    return tops


def _most_own_words(focus: QueryText, ranked: list[Sentence]) -> Sentence:
    """Of the first :data:`MAX_PART_CANDIDATES` of ``ranked``, the one holding most of the part's own words."""
    return max(ranked[:MAX_PART_CANDIDATES], key=lambda s: _part_match(focus, s.text))


def _part_match(focus: QueryText, text: str) -> int:
    """Characters of the part's own words (two or more characters) that ``text`` holds."""
    norm = fold(text)
    return sum(len(w) for w in set(focus.tokens) if len(w) >= 2 and w in norm)


def trim_to_clauses(sentence: str, focus: QueryText) -> str:
    """The run of clauses of a long sentence that holds most of what the question asks.

    Clauses are cut after "，" and "；"; the window of consecutive clauses (at most about
    :data:`TRIM_TO_CHARS` characters, or one clause) with the most question words wins,
    a figure counting when one is asked; ties go to the earlier, shorter window. The
    result is a verbatim substring of the sentence, so its citation still checks.
    """
    if len(sentence) <= TRIM_ABOVE_CHARS:
        return sentence
    clauses = [c for c in _CLAUSE_END.split(sentence) if c]
    if len(clauses) < 2:
        return sentence
    words = [t for t in set(focus.tokens) if len(t) >= 2]

    def worth(text: str) -> float:
        norm = fold(text)
        hits = sum(len(w) for w in words if w in norm)
        if focus.asks_figure and states_asked_figure(focus, text):
            hits += 3
        if focus.wanted_figure is not None and focus.wanted_figure.search(text):
            hits += 3
        return hits

    best = (worth(sentence), -len(sentence), 0, len(clauses))
    best_value = -1.0
    for i in range(len(clauses)):
        length = 0
        for j in range(i, len(clauses)):
            length += len(clauses[j])
            if length > TRIM_TO_CHARS and j > i:
                break
            value = worth("".join(clauses[i : j + 1]))
            if value > best_value:
                best_value, best = value, (value, -length, i, j + 1)
    _, _, start, end = best
    text = "".join(clauses[start:end]).rstrip("，,；; ")
    # A window that stops mid-sentence ends as a sentence, so the answer reads whole.
    return text if text.endswith(("。", "！", "？", "”")) else text + "。"


def _add_reasons(chosen: dict[tuple[int, int], Sentence], evidence: Evidence) -> None:
    """Asked why or how, a chosen sentence that gives no reason brings the sentence after it:
    news state the claim the question repeats, then the reason or the way."""
    if not any(asks in evidence.query.text for asks in _ASKS_WHY_OR_HOW):
        return
    for sent in list(chosen.values()):
        sentences = evidence.sentences_of(sent.passage)
        nxt = sent.index + 1
        if nxt < len(sentences) and not any(gives in sent.text for gives in _GIVES_REASON) \
                and not sentences[nxt].endswith(("？", "?")):
            chosen.setdefault((sent.passage, nxt), Sentence(sent.passage, nxt, sentences[nxt], sent.score))


def _add_list_bodies(chosen: dict[tuple[int, int], Sentence], evidence: Evidence) -> None:
    """Add the items a lead-in or a first item announces (see :func:`list_items`)."""
    for sent in list(chosen.values()):
        sentences = evidence.sentences_of(sent.passage)
        for nxt in list_items(sent.text, sent.index, sentences):
            chosen.setdefault((sent.passage, nxt), Sentence(sent.passage, nxt, sentences[nxt], sent.score))
