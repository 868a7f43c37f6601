"""Check, repair and renumber the ``[n]`` citation markers of a generated answer.

Why this exists: the small local LLM cites loosely. It points a claim at the wrong
passage, cites passages it was never given (``[7]`` with five passages), writes the
marker in several syntaxes (``[1,2]``, ``【1】``, ``［1］``) or leaves a copied fact
uncited. Every marker is therefore verified after generation against the passage it
names, using character n-gram overlap: the model answers by copying names and figures
out of the passages, so a sentence that is really supported shares long runs of
characters with its source, while a wrong passage from the same topic only shares
common words ("公司", "市场").

Support score (see :func:`support_score`), computed on both texts after NFKC
normalisation, lower-casing and removal of markers, whitespace and punctuation:

    base  = 0.4 * bigram recall + 0.4 * trigram recall + 0.2 * LCS ratio
    score = base, or base * 0.5 * (share of the sentence's figures found in the
            passage) when any figure is missing (years are not counted)

*bigram/trigram recall* is the share of the sentence's distinct character bigrams /
trigrams that occur in the passage; the *LCS ratio* is the longest common substring
divided by the sentence length. Trigrams and the LCS reward copied runs, bigrams keep
light paraphrase ("于…召开" vs "在…举行") from collapsing the score, and the figure
rule makes a changed number (4480 instead of 3480) sink the score even when every
other character matches. Years are exempt because the model often adds one from the
article date ("今年" -> "2023年").

Calibration of :data:`SUPPORT_THRESHOLD`, on 57 hand-made (sentence, passage) pairs
cut from the bundled corpus (they live in ``tests/generate/test_citations.py``):

* verbatim and lightly paraphrased supported sentences: 0.60-1.00;
* the same sentences against the wrong passage (same article or another one), with a
  changed figure, or invented claims off the passage's topic: 0.00-0.12;
* the overlap zone 0.35-0.50 holds what a lexical score cannot tell apart: heavy
  paraphrases (reordered, synonyms: true) and invented claims on the passage's topic
  ("黑石宣布将大幅提高新发基金的管理费", false).

0.45 sits in that zone where the sweep over 0.30-0.65 had its fewest errors (2 heavy
paraphrases rejected, 2 on-topic inventions accepted), leaning to rejection since a
kept wrong citation is what this module exists to prevent and the small model mostly
copies. Markers are *added* to uncited sentences only at :data:`ADD_THRESHOLD` (0.60,
the floor of the light-paraphrase group), above every negative seen.
Cross-check on eval/datasets/dev.jsonl (104 single-passage questions, the reference
answer standing in for the model's, real chunks from rag.ingest with 4 chunks of the
same article as distractors): the right marker was kept 102 times, a wrong marker
was moved to the right passage 102 times.
Known limit: a contradiction that copies the passage's words and figures ("提振" ->
"限制") scores high; catching it needs an NLI model, not n-grams.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import asdict, dataclass, field
from collections.abc import Mapping
from typing import Any, Literal

logger = logging.getLogger(__name__)

SUPPORT_THRESHOLD = 0.45
"""Minimum :func:`support_score` for a passage to count as supporting a claim."""

ADD_THRESHOLD = 0.6
"""Minimum score before a marker is *added* to an uncited sentence (stronger evidence
than keeping one the model wrote)."""

MIN_CLAIM_CHARS = 6
"""Sentences with fewer content characters are connectives/headings, not claims."""

MIN_SEGMENT_CHARS = 6
"""A mid-sentence marker whose own clause is shorter is checked against the sentence."""

# One marker group: [1] [1,2] [1, 2] [1、2] ［1］ 【1】 and full-width digits. Only
# 1-3 digit numbers, so a bracketed year such as "[2023]" is left alone.
_MARKER_RE = re.compile(
    r"[\[［【]\s*([0-9０-９]{1,3}(?:\s*[,，、]\s*[0-9０-９]{1,3})*)\s*[\]］】]"
)
# Several groups written back to back ("[1][2]", "[1] [2]") are one group.
_MARKER_RUN_RE = re.compile(rf"(?:{_MARKER_RE.pattern})(?:[ \t]*(?:{_MARKER_RE.pattern}))*")
_NORMALISED_RUN_RE = re.compile(r"(?:\[\d{1,3}\])+")

_TERMINATORS = frozenset("。！？!?；;")
_CLOSERS = frozenset("”’」』）)》〉\"'")
_INLINE_SPACE = frozenset(" \t\u3000")
_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
# "1. ", "2、", "(3)", "- ", "一、": list numbering is layout, not a figure to check.
_LIST_PREFIX_RE = re.compile(
    r"^\s*(?:[-*•·]|\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[)）]|[一二三四五六七八九十]{1,3}、)\s*"
)
# Years are often added from the article date ("今年" -> "2023年"); not penalised.
_YEAR_RE = re.compile(r"(?:19|20)\d\d")

_REFUSAL_PATTERNS = (
    "无法回答",
    "无法确定",
    "无法判断",
    "无法找到",
    "无法从",
    "无法提供",
    "没有找到",
    "未找到",
    "未能找到",
    "未提及",
    "没有提及",
    "未提供",
    "没有提供",
    "没有相关",
    "无相关",
    "不包含",
    "没有包含",
    "资料中没有",
    "不足以回答",
    "不知道",
    "抱歉",
)
_CONNECTIVES = frozenset(
    {
        "综上所述",
        "总之",
        "总的来说",
        "总而言之",
        "具体如下",
        "如下",
        "以下是",
        "以下是相关信息",
        "答案如下",
        "根据资料",
        "根据提供的资料",
        "根据参考资料",
    }
)

Action = Literal["kept", "moved", "removed", "invalid", "added"]


# --------------------------------------------------------------------------- text


def _content(text: str) -> str:
    """Comparable form: NFKC, lower case, no markers, whitespace or punctuation.

    Digits keep a decimal point and thousands separators are dropped so "3,480" and
    "3480", "6.9%" and "6.9 %" compare equal.
    """
    s = unicodedata.normalize("NFKC", text)
    s = _MARKER_RE.sub("", s).lower()
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s)
    out: list[str] = []
    for i, ch in enumerate(s):
        if ch.isalnum():
            out.append(ch)
        elif ch == "." and 0 < i < len(s) - 1 and s[i - 1].isdigit() and s[i + 1].isdigit():
            out.append(ch)
        elif ch == "%":
            out.append(ch)
    return "".join(out)


def _ngrams(s: str, n: int) -> set[str]:
    return {s[i : i + n] for i in range(len(s) - n + 1)}


def longest_common_substring(a: str, b: str) -> int:
    """Length of the longest common substring of ``a`` and ``b``.

    Binary search on the length: a common piece of length L implies one of L-1, and
    each probe is a handful of C-speed ``in`` tests, which beats an O(len(a)*len(b))
    Python DP on 500-character passages.
    """
    if not a or not b:
        return 0
    if len(a) > len(b):
        a, b = b, a
    lo, hi = 0, len(a)
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if any(a[i : i + mid] in b for i in range(len(a) - mid + 1)):
            lo = mid
        else:
            hi = mid - 1
    return lo


@dataclass(frozen=True)
class _Features:
    """Pre-computed comparable form of one text (passages are reused per answer)."""

    content: str
    bigrams: frozenset[str]
    trigrams: frozenset[str]
    numbers: frozenset[str]

    @classmethod
    def of(cls, text: str) -> _Features:
        text = _LIST_PREFIX_RE.sub("", text)
        c = _content(text)
        return cls(
            content=c,
            bigrams=frozenset(_ngrams(c, 2)),
            trigrams=frozenset(_ngrams(c, 3)),
            numbers=frozenset(_numbers(text)),
        )


def _numbers(text: str) -> list[str]:
    """Figures in ``text``, read before punctuation is dropped ("1—10月" is 1 and 10)."""
    s = _MARKER_RE.sub(" ", unicodedata.normalize("NFKC", text))
    s = re.sub(r"(?<=\d),(?=\d{3})", "", s)
    return _NUMBER_RE.findall(s)


def _score(claim: _Features, passage: _Features, question: _Features | None = None) -> float:
    c = claim.content
    if not c or not passage.content:
        return 0.0
    if len(c) == 1:
        return 1.0 if c in passage.content else 0.0
    bigram = len(claim.bigrams & passage.bigrams) / len(claim.bigrams)
    trigram = len(claim.trigrams & passage.trigrams) / len(claim.trigrams) if claim.trigrams else bigram
    lcs = longest_common_substring(c, passage.content) / len(c)
    base = 0.4 * bigram + 0.4 * trigram + 0.2 * lcs
    if question is not None:
        base = max(base, _answer_part_score(c, passage.content, question.bigrams))
    figures = {x for x in claim.numbers if not _YEAR_RE.fullmatch(x)}
    missing = figures - passage.numbers
    if missing:
        # A figure the passage doesn't contain is a claim it doesn't make.
        base *= 0.5 * (1 - len(missing) / len(figures))
    return round(min(1.0, base), 4)


def _answer_part_score(claim: str, passage: str, question_bigrams: frozenset[str]) -> float:
    """For a claim that mostly restates the question ("委员一届最长干5年" for
    "委员一届最长干几年？"): how much of what it adds the passage holds (0 for any
    other claim).

    The restated words are not a claim the passage must make. The added stretches
    ("5年") are scored whole, which avoids the bigrams that straddle them and the
    restated words ("干5"), which a paraphrasing passage ("任期不超过5年") never has.
    Figures are still checked by the caller.
    """
    restated = [False] * len(claim)
    for i in range(len(claim) - 1):
        if claim[i : i + 2] in question_bigrams:
            restated[i] = restated[i + 1] = True
    if 2 * sum(restated) < len(claim):
        return 0.0
    # Content text is alphanumeric, so a space can mark the restated characters.
    added = "".join(" " if r else ch for ch, r in zip(claim, restated)).split()
    if not added:
        return 0.0
    return sum(longest_common_substring(seg, passage) for seg in added) / sum(len(seg) for seg in added)


def support_score(sentence: str, passage: str, question: str | None = None) -> float:
    """How well ``passage`` supports ``sentence``, in [0, 1] (see module docstring).

    With ``question``, words the sentence repeats from the question need no support.
    """
    return _score(_Features.of(sentence), _Features.of(passage), _Features.of(question) if question else None)


def strip_markers(text: str) -> str:
    """The text without any citation marker."""
    return _MARKER_RUN_RE.sub("", text)


def parse_markers(text: str) -> list[int]:
    """Every marker number in ``text``, in order of appearance (duplicates kept)."""
    numbers: list[int] = []
    for m in _MARKER_RE.finditer(text):
        for part in re.split(r"[,，、]", m.group(1)):
            numbers.append(int(unicodedata.normalize("NFKC", part).strip()))
    return numbers


def is_refusal(text: str) -> bool:
    """True when the sentence says the context does not answer the question."""
    s = unicodedata.normalize("NFKC", text)
    return any(p in s for p in _REFUSAL_PATTERNS)


def is_claim(sentence: str) -> bool:
    """True for a sentence that states something checkable.

    Not claims: short connectives ("综上所述。"), headings ("## 背景", "一、背景",
    lines ending with a colon) and refusals ("资料中没有提及…").
    """
    s = strip_markers(sentence).strip()
    if not s or s.startswith("#") or s.rstrip("。！？!?；; ").endswith((":", "：")):
        return False
    c = _content(s)
    if len(c) < MIN_CLAIM_CHARS or c in _CONNECTIVES:
        return False
    return not is_refusal(s)


# ---------------------------------------------------------------- sentence split


def _marker_runs(text: str) -> list[tuple[int, int]]:
    return [(m.start(), m.end()) for m in _MARKER_RUN_RE.finditer(text)]


def _sentence_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) of each sentence; the gaps between spans are whitespace only.

    A sentence ends at a newline or after a terminator, extended over further
    terminators, closing quotes/brackets, and marker groups that follow (with or
    without spaces), so both "举行[1]。" and "举行。[1]" stay in one sentence.
    """
    runs = {s: e for s, e in _marker_runs(text)}
    spans: list[tuple[int, int]] = []
    start = 0
    i = 0
    n = len(text)

    def close(end: int) -> None:
        seg = text[start:end]
        left = len(seg) - len(seg.lstrip())
        right = len(seg.rstrip())
        if right > left:
            spans.append((start + left, start + right))

    while i < n:
        if i in runs:
            i = runs[i]
            continue
        ch = text[i]
        if ch in "\r\n":
            close(i)
            start = i = i + 1
            continue
        if ch in _TERMINATORS:
            j = i + 1
            while j < n:
                if text[j] in _TERMINATORS or text[j] in _CLOSERS:
                    j += 1
                    continue
                k = j
                while k < n and text[k] in _INLINE_SPACE:
                    k += 1
                if k in runs:
                    j = runs[k]
                    continue
                break
            close(j)
            start = i = j
            continue
        i += 1
    close(n)
    return spans


def split_sentences(text: str) -> list[str]:
    """Chinese-aware sentence split that keeps each marker with its sentence.

    Splits after 。！？!?；; and at newlines; decimal points and list numbers are
    not terminators.
    """
    return [text[s:e] for s, e in _sentence_spans(text)]


# -------------------------------------------------------------- sentence model


@dataclass
class _Group:
    """A clause and the marker group written right after it."""

    text: str
    markers: list[int]


@dataclass
class _Sentence:
    groups: list[_Group]
    tail: str  # text after the last marker group (or the whole sentence if none)

    @classmethod
    def parse(cls, sentence: str) -> _Sentence:
        groups: list[_Group] = []
        pos = 0
        for s, e in _marker_runs(sentence):
            groups.append(_Group(sentence[pos:s].rstrip(), parse_markers(sentence[s:e])))
            pos = e
        tail = sentence[pos:]
        if groups and not _content(tail):
            # "举行。[1]" -> marker goes before the final punctuation: "举行[1]。"
            last = groups[-1]
            body = last.text.rstrip()
            k = len(body)
            while k > 0 and body[k - 1] in _TERMINATORS:
                k -= 1
            if k < len(body):
                last.text, tail = body[:k], body[k:] + tail.strip()
        return cls(groups, tail)

    def plain(self) -> str:
        return "".join(g.text for g in self.groups) + self.tail

    def render(self) -> str:
        parts = [g.text + "".join(f"[{n}]" for n in g.markers) for g in self.groups]
        return "".join(parts) + self.tail


def _split_terminal(text: str) -> tuple[str, str]:
    body = text.rstrip()
    k = len(body)
    while k > 0 and body[k - 1] in _TERMINATORS:
        k -= 1
    return body[:k].rstrip(), body[k:] + text[len(body) :]


def claim_segments(sentence: str) -> list[tuple[str, list[int]]]:
    """Each marker group of a sentence with the claim text it vouches for.

    A group covers the clause written since the previous group; when that clause is
    too short to judge (``"…，分别为[1]"``) the whole sentence is used instead.
    Markers are returned as written (duplicates and invalid numbers included).
    """
    parsed = _Sentence.parse(sentence)
    whole = strip_markers(sentence)
    out: list[tuple[str, list[int]]] = []
    for g in parsed.groups:
        claim = g.text if len(_content(g.text)) >= MIN_SEGMENT_CHARS else whole
        out.append((claim, list(g.markers)))
    return out


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


class _Scorer:
    """Scores claims against the prepared passages, caching per claim text."""

    def __init__(self, passages: list[str], question: str | None = None) -> None:
        self.passages = [_Features.of(p) for p in passages]
        self.question = _Features.of(question) if question else None
        self._cache: dict[str, list[float]] = {}

    def scores(self, claim: str) -> list[float]:
        if claim not in self._cache:
            f = _Features.of(claim)
            self._cache[claim] = [_score(f, p, self.question) for p in self.passages]
        return self._cache[claim]

    def best(self, claim: str) -> tuple[int | None, float]:
        s = self.scores(claim)
        if not s:
            return None, 0.0
        i = max(range(len(s)), key=lambda k: s[k])
        return i + 1, s[i]


def _clauses(text: str) -> list[str]:
    parts = re.split(r"[，,、：:]", text)
    return [p for p in parts if len(_content(p)) >= MIN_SEGMENT_CHARS]


def _marker_score(scorer: _Scorer, claim: str, whole: str, n: int, multi: bool) -> float:
    """Score of passage ``n`` for a claim: the clause, or the sentence if better.

    In a group citing several passages ("A增长5%，B下降3%[1][2]") each passage only
    has to support one clause, so the best clause counts too.
    """
    candidates = {claim, whole}
    if multi:
        candidates.update(_clauses(claim))
    return max(scorer.scores(c)[n - 1] for c in candidates)


def _best_for(scorer: _Scorer, claim: str, whole: str, multi: bool) -> tuple[int | None, float]:
    best: tuple[int | None, float] = (None, 0.0)
    for n in range(1, len(scorer.passages) + 1):
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
    scorer = _Scorer([passages[n] for n in numbers], question)
    parsed = _Sentence.parse(sentence)
    whole = parsed.plain()
    out: list[tuple[int, float | None]] = []
    for g in parsed.groups:
        claim = g.text if len(_content(g.text)) >= MIN_SEGMENT_CHARS else whole
        multi = len(set(g.markers)) > 1
        for n in g.markers:
            if n not in index:
                out.append((n, None))
            else:
                out.append((n, _marker_score(scorer, claim, whole, index[n], multi)))
    return out


def _check_sentence(
    sentence: str,
    scorer: _Scorer,
    threshold: float,
    add_threshold: float,
) -> SentenceCheck:
    parsed = _Sentence.parse(sentence)
    whole = parsed.plain()
    claim_like = is_claim(whole)
    before = [n for g in parsed.groups for n in g.markers]
    actions: list[MarkerAction] = []
    n_passages = len(scorer.passages)

    for g in parsed.groups:
        claim = g.text if len(_content(g.text)) >= MIN_SEGMENT_CHARS else whole
        multi = len(set(g.markers)) > 1
        final: list[int] = []
        for n in g.markers:
            if not 1 <= n <= n_passages:
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
        body, terminal = _split_terminal(parsed.tail)
        parsed.tail = f"{body}[{best}]{terminal}"
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
    scorer = _Scorer(passages, question)
    spans = _sentence_spans(answer)
    checks: list[SentenceCheck] = []
    out: list[str] = []
    pos = 0
    for s, e in spans:
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


def renumber(result: CitationResult) -> tuple[str, dict[int, int]]:
    """Renumber the checked answer's markers 1..m in order of first citation.

    Returns the new text and ``{new_number: original_passage_number}``, so the API
    can list exactly the cited passages in the order the reader meets them.
    """
    mapping: dict[int, int] = {}
    reverse: dict[int, int] = {}
    for m in re.finditer(r"\[(\d{1,3})\]", result.text):
        original = int(m.group(1))
        if original not in reverse:
            reverse[original] = len(reverse) + 1
            mapping[reverse[original]] = original

    def sub(m: re.Match[str]) -> str:
        nums = sorted({reverse[int(x)] for x in re.findall(r"\d+", m.group(0))})
        return "".join(f"[{n}]" for n in nums)

    return _NORMALISED_RUN_RE.sub(sub, result.text), mapping
