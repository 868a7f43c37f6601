"""How well a passage supports a sentence: the lexical support score and its thresholds.

Why this exists: the small local LLM cites loosely. It points a claim at the wrong
passage, cites passages it was never given or leaves a copied fact uncited, so every
marker is verified after generation (:mod:`rag.verify.citations`) against the passage
it names, with this score. It uses character n-gram overlap: the model answers by
copying names and figures out of the passages, so a sentence that is really supported
shares long runs of characters with its source, while a wrong passage from the same
topic only shares common words ("公司", "市场").

Support score (see :func:`support_score`), computed on both texts in the comparable
form of :func:`rag.text.normalize.content_chars` (NFKC, lower case, no markers,
whitespace or punctuation):

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
cut from the bundled corpus (they live in ``tests/verify/test_support.py``):

* verbatim and lightly paraphrased supported sentences: 0.60-1.00;
* the same sentences against the wrong passage (same article or another one), with a
  changed figure, or invented claims off the passage's topic: 0.00-0.12;
* the overlap zone 0.35-0.50 holds what a lexical score cannot tell apart: heavy
  paraphrases (reordered, synonyms: true) and invented claims on the passage's topic
  ("黑石宣布将大幅提高新发基金的管理费", false).

0.45 sits in that zone where the sweep over 0.30-0.65 had its fewest errors (2 heavy
paraphrases rejected, 2 on-topic inventions accepted), leaning to rejection since a
kept wrong citation is what the checker exists to prevent and the small model mostly
copies. Markers are *added* to uncited sentences only at :data:`ADD_THRESHOLD` (0.60,
the floor of the light-paraphrase group), above every negative seen.
Cross-check on eval/datasets/dev.jsonl (104 single-passage questions, the reference
answer standing in for the model's, real chunks from rag.ingest with 4 chunks of the
same article as distractors): the right marker was kept 102 times, a wrong marker
was moved to the right passage 102 times.
Known limit: a contradiction that copies the passage's words and figures ("提振" ->
"限制") scores high; catching it needs an NLI model, not n-grams.

An answer that restates the question ("委员一届最长干5年" for "委员一届最长干几年？")
is scored on what it adds (see :func:`support_score` with ``question``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from rag.text.markers import MARKER_RE
from rag.text.normalize import char_ngrams, content_chars

SUPPORT_THRESHOLD = 0.45
"""Minimum :func:`support_score` for a passage to count as supporting a claim."""

ADD_THRESHOLD = 0.6
"""Minimum score before a marker is *added* to an uncited sentence (stronger evidence
than keeping one the model wrote)."""

_NUMBER_RE = re.compile(r"\d+(?:\.\d+)?")
_THOUSANDS_RE = re.compile(r"(?<=\d),(?=\d{3})")
# "1. ", "2、", "(3)", "- ", "一、": list numbering is layout, not a figure to check.
_LIST_PREFIX_RE = re.compile(
    r"^\s*(?:[-*•·]|\d{1,2}[.、)）](?!\d)|[（(]\d{1,2}[)）]|[一二三四五六七八九十]{1,3}、)\s*"
)
# Years are often added from the article date ("今年" -> "2023年"); not penalised.
_YEAR_RE = re.compile(r"(?:19|20)\d\d")


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


def _figures(text: str) -> list[str]:
    """Figures in ``text``, read before punctuation is dropped ("1—10月" is 1 and 10)."""
    s = MARKER_RE.sub(" ", unicodedata.normalize("NFKC", text))
    return _NUMBER_RE.findall(_THOUSANDS_RE.sub("", s))


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
        c = content_chars(text)
        return cls(
            content=c,
            bigrams=frozenset(char_ngrams(c, 2)),
            trigrams=frozenset(char_ngrams(c, 3)),
            numbers=frozenset(_figures(text)),
        )


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
    added = added_stretches(claim, question_bigrams)
    if 2 * sum(len(seg) for seg in added) > len(claim) or not added:
        return 0.0
    return sum(longest_common_substring(seg, passage) for seg in added) / sum(len(seg) for seg in added)


def added_stretches(claim: str, question_bigrams: frozenset[str]) -> list[str]:
    """The runs of a claim's content characters that are not the question's own words: a
    character is restated when a two-character window of the question covers it."""
    restated = [False] * len(claim)
    for i in range(len(claim) - 1):
        if claim[i : i + 2] in question_bigrams:
            restated[i] = restated[i + 1] = True
    # Content text is alphanumeric, so a space can mark the restated characters.
    return "".join(" " if r else ch for ch, r in zip(claim, restated)).split()


MIN_ADDED_CHARS = 2
"""An answer must add at least this many characters of its own to the question's words:
"是" alone, or nothing, tells the reader nothing the question did not."""


def restates_question(answer: str, question: str) -> bool:
    """True when the answer only repeats the question ("Sora对网文IP公司是利好[1]" for
    "为什么说Sora对网文IP公司是利好？"): it passes every citation check, since the
    passage holds the question's words, and answers nothing."""
    content = content_chars(answer)
    if not content:
        return False  # an empty answer is refused as such, not as a restatement
    added = added_stretches(content, frozenset(char_ngrams(content_chars(question), 2)))
    return sum(len(seg) for seg in added) < MIN_ADDED_CHARS


def support_score(sentence: str, passage: str, question: str | None = None) -> float:
    """How well ``passage`` supports ``sentence``, in [0, 1] (see module docstring).

    With ``question``, words the sentence repeats from the question need no support.
    """
    return _score(_Features.of(sentence), _Features.of(passage), _Features.of(question) if question else None)


class SupportScorer:
    """:func:`support_score` of many claims against one answer's passages.

    The passages' (and question's) features are computed once, and each claim's
    scores are cached, since the checker scores a sentence and its clauses against
    every passage several times. Passage numbers are 1-based, as in markers.
    """

    def __init__(self, passages: list[str], question: str | None = None) -> None:
        self._passages = [_Features.of(p) for p in passages]
        self._question = _Features.of(question) if question else None
        self._cache: dict[str, list[float]] = {}

    def __len__(self) -> int:
        """The number of passages."""
        return len(self._passages)

    def scores(self, claim: str) -> list[float]:
        """The claim's score against each passage, in passage order."""
        if claim not in self._cache:
            f = _Features.of(claim)
            self._cache[claim] = [_score(f, p, self._question) for p in self._passages]
        return self._cache[claim]

    def best(self, claim: str) -> tuple[int | None, float]:
        """(1-based number, score) of the passage that supports ``claim`` best, or
        ``(None, 0.0)`` without passages. The first passage wins a tie."""
        s = self.scores(claim)
        if not s:
            return None, 0.0
        i = max(range(len(s)), key=lambda k: s[k])
        return i + 1, s[i]
