"""Check, repair and renumber the ``[n]`` citation markers of a generated answer.

Why this exists: the small local LLM cites loosely. It points a claim at the wrong
passage, cites passages it was never given (``[7]`` with five passages), writes the
marker in several syntaxes (``[1,2]``, ``【1】``, ``［1］``) or leaves a copied fact
uncited. Every marker is therefore verified after generation against the passage it
names, with the support score of :mod:`rag.verify.support` (its docstring explains
the score and the calibration of its thresholds), and repaired:

* a marker naming no passage is removed (counted ``invalid``);
* a supported marker is kept; an unsupported one moves to a passage that supports the
  claim, or is removed;
* a claim left without a marker gets the best passage when it clears
  :data:`~rag.verify.support.ADD_THRESHOLD`; a claim nothing supports is reported.

Sentences are cut by :func:`rag.text.sentences.sentence_spans`, claims are told from
connectives and refusals by :mod:`rag.verify.claims`, and the marker syntax is
:mod:`rag.text.markers`; markers come out in the normal form ``[n]``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rag.text.markers import NORMAL_MARKER_RE, NORMAL_RUN_RE, marker, marker_runs, parse_markers, strip_markers
from rag.text.normalize import content_chars
from rag.text.sentences import TERMINATORS, sentence_spans
from rag.verify.claims import is_claim
from rag.verify.support import ADD_THRESHOLD, SUPPORT_THRESHOLD, SupportScorer

logger = logging.getLogger(__name__)

MIN_SEGMENT_CHARS = 6
"""A mid-sentence marker whose own clause is shorter is checked against the sentence."""

Action = Literal["kept", "moved", "removed", "invalid", "added"]


# -------------------------------------------------------------- sentence model


def _terminal_start(body: str) -> int:
    """Where the run of terminators at the end of ``body`` (no trailing space) starts."""
    k = len(body)
    while k > 0 and body[k - 1] in TERMINATORS:
        k -= 1
    return k


@dataclass
class _Group:
    """A clause and the marker group written right after it."""

    text: str
    markers: list[int]


@dataclass
class _Sentence:
    """A sentence as clauses, each followed by its marker group, then a tail."""

    groups: list[_Group]
    tail: str  # text after the last marker group (or the whole sentence if none)

    @classmethod
    def parse(cls, sentence: str) -> _Sentence:
        groups: list[_Group] = []
        pos = 0
        for s, e in marker_runs(sentence):
            groups.append(_Group(sentence[pos:s].rstrip(), parse_markers(sentence[s:e])))
            pos = e
        tail = sentence[pos:]
        if groups and not content_chars(tail):
            # "举行。[1]" -> marker goes before the final punctuation: "举行[1]。"
            last = groups[-1]
            body = last.text.rstrip()
            k = _terminal_start(body)
            if k < len(body):
                last.text, tail = body[:k], body[k:] + tail.strip()
        return cls(groups, tail)

    def plain(self) -> str:
        return "".join(g.text for g in self.groups) + self.tail

    def render(self) -> str:
        parts = [g.text + "".join(marker(n) for n in g.markers) for g in self.groups]
        return "".join(parts) + self.tail

    def add_marker(self, n: int) -> None:
        """Cite passage ``n`` at the end of the sentence, before its terminators."""
        body = self.tail.rstrip()
        k = _terminal_start(body)
        self.tail = body[:k].rstrip() + marker(n) + body[k:] + self.tail[len(body) :]


def _claim_of(group: _Group, whole: str) -> str:
    """What a marker group vouches for: its clause, or the whole sentence when the
    clause is too short to judge (``"…，分别为[1]"``)."""
    return group.text if len(content_chars(group.text)) >= MIN_SEGMENT_CHARS else whole


def claim_segments(sentence: str) -> list[tuple[str, list[int]]]:
    """Each marker group of a sentence with the claim text it vouches for.

    A group covers the clause written since the previous group; when that clause is
    too short to judge (``"…，分别为[1]"``) the whole sentence is used instead.
    Markers are returned as written (duplicates and invalid numbers included).
    """
    whole = strip_markers(sentence)
    return [(_claim_of(g, whole), list(g.markers)) for g in _Sentence.parse(sentence).groups]


# -------------------------------------------------------------------- results


@dataclass
class MarkerAction:
    """What happened to one marker (``original`` is None for an added marker)."""

    original: int | None
    final: int | None
    action: Action
    score: float


@dataclass
class SentenceCheck:
    """Per-sentence outcome of :func:`check_citations`."""

    text: str
    rewritten: str
    is_claim: bool
    markers_before: list[int]
    markers_after: list[int]
    best_passage: int | None
    best_score: float
    supported: bool
    actions: list[MarkerAction] = field(default_factory=list)


@dataclass
class CitationResult:
    """The checked answer: rewritten text, citations used, and what was changed."""

    text: str
    cited: list[int]
    sentences: list[SentenceCheck]
    unsupported_sentences: list[str]
    kept: int = 0
    moved: int = 0
    removed: int = 0  # includes the invalid ones
    added: int = 0
    invalid: int = 0
    threshold: float = SUPPORT_THRESHOLD

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


# -------------------------------------------------------------------- checking


def _clauses(text: str) -> list[str]:
    parts = re.split(r"[，,、：:]", text)
    return [p for p in parts if len(content_chars(p)) >= MIN_SEGMENT_CHARS]


def _marker_score(scorer: SupportScorer, claim: str, whole: str, n: int, multi: bool) -> float:
    """Score of passage ``n`` for a claim: the clause, or the sentence if better.

    In a group citing several passages ("A增长5%，B下降3%[1][2]") each passage only
    has to support one clause, so the best clause counts too.
    """
    candidates = {claim, whole}
    if multi:
        candidates.update(_clauses(claim))
    return max(scorer.scores(c)[n - 1] for c in candidates)


def _best_for(scorer: SupportScorer, claim: str, whole: str, multi: bool) -> tuple[int | None, float]:
    best: tuple[int | None, float] = (None, 0.0)
    for n in range(1, len(scorer) + 1):
        s = _marker_score(scorer, claim, whole, n, multi)
        if s > best[1]:
            best = (n, s)
    return best


def score_markers(
    sentence: str, passages: Mapping[int, str], question: str | None = None
) -> list[tuple[int, float | None]]:
    """Score every marker of ``sentence`` against the passage it names.

    ``passages`` maps marker numbers to passage texts (e.g. an answer's citation
    list). Returns ``(n, score)`` per marker as written, with ``None`` for a number
    that names no passage. Uses exactly the rule of :func:`check_citations`, so an
    evaluation counts as supported what the checker would keep.
    """
    numbers = sorted(passages)
    index = {n: i + 1 for i, n in enumerate(numbers)}
    scorer = SupportScorer([passages[n] for n in numbers], question)
    parsed = _Sentence.parse(sentence)
    whole = parsed.plain()
    out: list[tuple[int, float | None]] = []
    for g in parsed.groups:
        claim = _claim_of(g, whole)
        multi = len(set(g.markers)) > 1
        for n in g.markers:
            if n not in index:
                out.append((n, None))
            else:
                out.append((n, _marker_score(scorer, claim, whole, index[n], multi)))
    return out


def _check_sentence(sentence: str, scorer: SupportScorer, threshold: float, add_threshold: float) -> SentenceCheck:
    parsed = _Sentence.parse(sentence)
    whole = parsed.plain()
    claim_like = is_claim(whole)
    before = [n for g in parsed.groups for n in g.markers]
    actions: list[MarkerAction] = []

    for g in parsed.groups:
        claim = _claim_of(g, whole)
        multi = len(set(g.markers)) > 1
        final: list[int] = []
        for n in g.markers:
            if not 1 <= n <= len(scorer):
                actions.append(MarkerAction(n, None, "invalid", 0.0))
                continue
            score = _marker_score(scorer, claim, whole, n, multi)
            if score >= threshold:
                actions.append(MarkerAction(n, n, "kept", score))
                final.append(n)
                continue
            best, best_score = _best_for(scorer, claim, whole, multi)
            if best is not None and best_score >= threshold:
                actions.append(MarkerAction(n, best, "moved", best_score))
                final.append(best)
            else:
                actions.append(MarkerAction(n, None, "removed", score))
        g.markers = sorted(set(final))

    best, best_score = scorer.best(whole)
    has_marker = any(g.markers for g in parsed.groups)
    if not has_marker and claim_like and best is not None and best_score >= add_threshold:
        parsed.add_marker(best)
        actions.append(MarkerAction(None, best, "added", best_score))
        has_marker = True

    supported = has_marker or best_score >= threshold
    after = [n for g in parsed.groups for n in g.markers]
    after += [a.final for a in actions if a.action == "added" and a.final is not None]
    return SentenceCheck(
        text=sentence,
        rewritten=parsed.render(),
        is_claim=claim_like,
        markers_before=before,
        markers_after=after,
        best_passage=best,
        best_score=best_score,
        supported=supported or not claim_like,
        actions=actions,
    )


def check_citations(
    answer: str,
    passages: list[str],
    threshold: float = SUPPORT_THRESHOLD,
    add_threshold: float | None = None,
    question: str | None = None,
) -> CitationResult:
    """Verify every marker of ``answer`` against ``passages`` (marker n = passages[n-1]).

    Per marker: out of range -> removed (counted ``invalid``); supported -> kept;
    unsupported but another passage passes ``threshold`` -> moved there; else removed.
    A claim sentence left without a marker gets the best passage added when it scores
    at least ``add_threshold`` (default ``max(threshold, ADD_THRESHOLD)``); a claim
    no passage supports is listed in ``unsupported_sentences``. With ``question``,
    words a sentence repeats from it need no support. Formatting between
    sentences (newlines, list layout) is preserved; markers come out as ``[n]``.
    """
    add_at = max(threshold, ADD_THRESHOLD) if add_threshold is None else add_threshold
    scorer = SupportScorer(passages, question)
    checks: list[SentenceCheck] = []
    out: list[str] = []
    pos = 0
    for s, e in sentence_spans(answer):
        out.append(answer[pos:s])
        check = _check_sentence(answer[s:e], scorer, threshold, add_at)
        checks.append(check)
        out.append(check.rewritten)
        pos = e
    out.append(answer[pos:])

    counts = {a: 0 for a in ("kept", "moved", "removed", "invalid", "added")}
    for c in checks:
        for a in c.actions:
            counts[a.action] += 1
    result = CitationResult(
        text="".join(out),
        cited=sorted({n for c in checks for n in c.markers_after}),
        sentences=checks,
        unsupported_sentences=[c.text for c in checks if c.is_claim and not c.supported],
        kept=counts["kept"],
        moved=counts["moved"],
        removed=counts["removed"] + counts["invalid"],
        added=counts["added"],
        invalid=counts["invalid"],
        threshold=threshold,
    )
    logger.debug(
        "citations: kept=%d moved=%d removed=%d (invalid %d) added=%d unsupported=%d",
        result.kept,
        result.moved,
        result.removed,
        result.invalid,
        result.added,
        len(result.unsupported_sentences),
    )
    return result


# -------------------------------------------------------------------- renumber


def renumber(result: CitationResult) -> tuple[str, dict[int, int]]:
    """Renumber the checked answer's markers 1..m in order of first citation.

    Returns the new text and ``{new_number: original_passage_number}``, so the API
    can list exactly the cited passages in the order the reader meets them.
    """
    mapping: dict[int, int] = {}
    reverse: dict[int, int] = {}
    for m in NORMAL_MARKER_RE.finditer(result.text):
        original = int(m.group(1))
        if original not in reverse:
            reverse[original] = len(reverse) + 1
            mapping[reverse[original]] = original

    def sub(m: re.Match[str]) -> str:
        nums = sorted({reverse[int(x)] for x in NORMAL_MARKER_RE.findall(m.group(0))})
        return "".join(marker(n) for n in nums)

    return NORMAL_RUN_RE.sub(sub, result.text), mapping
