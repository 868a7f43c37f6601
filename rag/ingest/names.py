"""Names a corpus teaches about itself, learned at ingest for jieba's user dictionary.

jieba's dictionary does not know most organisations, funds, programmes or documents of
a news corpus, and cuts them into common words ("宁波城投集团" -> 宁波 / 城投 / 集团), so
BM25, sentence ranking and the answerability check see three topic words where the
question named one thing. Articles say which strings are names, in forms that need no
word list about their topics:

* an abbreviation they define, and what it stands for: "中国证券监督管理委员会（以下简称
  “中国证监会”）" gives the name 中国证监会, the name 中国证券监督管理委员会 and the alias
  between the two;
* titles in 《》 ("《全国智慧旅游发展报告2023》");
* terms in quotation marks (“数字员工”), once the corpus quotes them at least
  :data:`MIN_QUOTED` times: one quotation is as often emphasis as a name.

:func:`find_names` reads one text; an ingest keeps each file's findings
(``chunks.sqlite``, table ``names``) so that an unchanged file need not be read again,
and :func:`build_lexicon` turns the findings of the whole corpus into the
:class:`rag.index.tokenize.Lexicon` that every jieba cut of that index then uses.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass

from rag.index.tokenize import Lexicon, base_flag, base_word, tag_plain
from rag.text.normalize import fold
from rag.verify.answerability import ENTITY_SUFFIXES

__all__ = ["MIN_QUOTED", "NameFinding", "build_lexicon", "find_names"]

# A priori limits, not fitted to any question set: a quoted term must recur to count,
# and a name is 2-30 characters (the longest full names in the bundled corpus are ~25).
MIN_QUOTED = 2
MIN_LENGTH, MAX_LENGTH = 2, 30
MAX_EXPANSIONS = 3  # an abbreviation defined for more things than this ("公司") says nothing

SHORT, FULL, TITLE, QUOTED = "short", "full", "title", "quoted"
# Part-of-speech tags the learned words get in jieba (rag.query reads them): "j" is
# jieba's own tag for an abbreviation, "nt" an organisation, "nz" another proper noun.
_TAGS = {SHORT: "j", FULL: "nt", TITLE: "nz", QUOTED: "nz"}

# jieba's own tags of words that are names (an abbreviation it knows: 证监会/j).
_NAME_TAGS = frozenset({"j", "nt", "nz", "ns", "nr", "nrt", "eng"})

_NAME_CHARS = r"[\w\u3400-\u9fff·\-－&＆]"
_OPEN, _CLOSE = "“\"「『《‘", "”\"」』》’"
# "（以下简称“中汽协”）", "(简称中国绿发会、绿会)", "（下称《报告》）"
_DEFINED = re.compile(
    rf"[（(]\s*(?:以下)?(?:简称|下称|简称为)[：:为]?\s*"
    rf"((?:[{_OPEN}]?{_NAME_CHARS}{{2,15}}[{_CLOSE}]?\s*[、，,和及或]?\s*){{1,3}})[）)]"
)
_ONE_NAME = re.compile(rf"{_NAME_CHARS}{{2,15}}")
_TITLE = re.compile(r"《([^《》\n]{2,30})》")
_QUOTE = re.compile(rf"[“「]({_NAME_CHARS}{{2,12}})[”」]")
_RUN_BEFORE = re.compile(rf"{_NAME_CHARS}{{1,40}}$")
# What a full name may be made of, read backwards from the bracket: nouns and names,
# verbal nouns (投资, 监督管理), numbers and measure words (第31届), times, distinguishing
# words; a verb, preposition, conjunction, adverb or particle ends it ("并获得|中国证监会").
_NAME_FLAGS = ("n", "vn", "j", "eng", "m", "q", "t", "b", "a", "x")


@dataclass(frozen=True, order=True)
class NameFinding:
    """One name a text shows; ``full`` is what a defined abbreviation (``kind`` short) stands for."""

    name: str
    kind: str
    full: str = ""


def _full_name_before(text: str, bracket: int, short: str) -> str:
    """The name just before the bracket that defines ``short`` ("" if none)."""
    head = text[:bracket].rstrip()
    if head.endswith("》"):
        title = head[head.rfind("《") + 1 : -1] if "《" in head else ""
        return title if MIN_LENGTH <= len(title) <= MAX_LENGTH else ""
    run = _RUN_BEFORE.search(head)
    if run is None:
        return ""
    words = tag_plain(run.group())
    start = len(run.group())
    for word, flag in reversed(words):
        if not flag.startswith(_NAME_FLAGS):
            break
        start -= len(word)
    # jieba may read a word of the name as a verb ("上海|迎水|投资管理有限公司"): the name
    # reaches back at least to where the abbreviation's first character is.
    if short and short[0] not in run.group()[start:]:
        earlier = run.group().rfind(short[0], 0, start)
        if earlier >= 0:
            start = earlier
            offset = 0
            for word, flag in words:  # and takes the place name before it ("上海" 迎水…)
                if offset + len(word) == start and flag == "ns":
                    start = offset
                    break
                offset += len(word)
    return run.group()[start:]


def _stands_for(short: str, full: str) -> bool:
    """``full`` can be what ``short`` abbreviates: longer, and sharing a character that is
    not a generic ending ("伊顿公司" is not "投资有限公司")."""
    core = short
    for suffix in ENTITY_SUFFIXES:
        if core.endswith(suffix) and len(core) > len(suffix):
            core = core[: -len(suffix)]
            break
    return len(full) > len(short) and any(ch in full for ch in core)


def find_names(text: str) -> Counter[NameFinding]:
    """The names ``text`` shows, with how often."""
    found: Counter[NameFinding] = Counter()
    for match in _DEFINED.finditer(text):
        shorts = _ONE_NAME.findall(match.group(1))
        for short in shorts:
            full = _full_name_before(text, match.start(), short)
            if MIN_LENGTH <= len(full) <= MAX_LENGTH and _stands_for(short, full):
                found[NameFinding(short, SHORT, full)] += 1
                found[NameFinding(full, FULL)] += 1
            else:
                found[NameFinding(short, QUOTED)] += 1  # a name, but of what the text does not say
    for match in _TITLE.finditer(text):
        title = match.group(1).strip()
        if _ONE_NAME.fullmatch(title):
            found[NameFinding(title, TITLE)] += 1
    for match in _QUOTE.finditer(text):
        found[NameFinding(match.group(1), QUOTED)] += 1
    return found


_CJK = re.compile(r"[\u3400-\u9fff]")


def _a_name(word: str) -> bool:
    """Could name something: Chinese characters, or three Latin letters or more; not a
    number or a year ("2023", "23")."""
    return bool(_CJK.search(word)) or (word.isascii() and len(word) >= 3 and not word.isdigit() and not word[0].isdigit())


def _usable(word: str) -> bool:
    return (
        MIN_LENGTH <= len(word) <= MAX_LENGTH
        and _a_name(word)
        and not (word.isascii() and len(word) < 3)  # "AI", "5G": too short to be told apart
        and not base_word(word)  # jieba already keeps it whole
    )


def _names_something(short: str) -> bool:
    """An abbreviation stands for one thing unless jieba knows it as a common word
    ("公司", "平台", "报告"): such a "以下简称" only avoids repeating a long name nearby."""
    flag = base_flag(short)
    return flag is None or flag in _NAME_TAGS


def build_lexicon(findings: Iterable[tuple[NameFinding, int]]) -> Lexicon:
    """The user dictionary of a whole corpus, from every file's findings and counts."""
    counts: Counter[NameFinding] = Counter()
    for finding, count in findings:
        counts[finding] += count
    quoted: Counter[str] = Counter()
    words: dict[str, str] = {}
    expansions: dict[str, set[str]] = {}
    for finding, count in counts.items():
        if finding.kind == QUOTED:
            quoted[finding.name] += count
            continue
        words.setdefault(finding.name, _TAGS[finding.kind])
        if finding.kind == SHORT:
            words.setdefault(finding.full, _TAGS[FULL])
            expansions.setdefault(finding.name, set()).add(finding.full)
    for name, count in quoted.items():
        if count >= MIN_QUOTED:
            words.setdefault(name, _TAGS[QUOTED])
    aliases: dict[str, set[str]] = {}
    for short, fulls in expansions.items():
        if len(fulls) > MAX_EXPANSIONS or not _names_something(short) or not _a_name(short):
            continue
        short = fold(short)
        for full in map(fold, fulls):
            aliases.setdefault(short, set()).add(full)
            aliases.setdefault(full, set()).add(short)
    return Lexicon(
        words={w: t for w, t in sorted(words.items()) if _usable(w)},
        aliases={name: tuple(sorted(others)) for name, others in sorted(aliases.items())},
    )
