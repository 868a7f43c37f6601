"""A question, analysed once: every later step (retrieval, evidence, answerability) reads this.

Before, the question was tokenised by jieba at each step that needed it. A :class:`Query`
holds the tokens, the character bigrams, the parts of a compound question, whether it
asks for a figure and in which unit, the years it names and its specific terms.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, fields
from typing import Protocol

from rag.index.tokenize import known_word, tag, tokenize, with_aliases
from rag.text.normalize import compact, word_chars
from rag.wordlists import load_set

QUESTION_WORDS = load_set("question_words")
"""Words that say what is asked, not about what (see rag/wordlists/question_words.txt)."""

MIN_TERM_IDF = 3.0
"""Below this a term is too common to tell topics apart (e.g. 公司, 市场, 2023)."""

_QUESTION_NOISE = re.compile(r"[？?。！!，,]")
# A question asking when wants a date, not a count (rag.answer.ranker.states_asked_figure).
_WHEN = r"哪一?年|哪一?天|哪个月|何时|何年|什么时候|什么时间|几月|几号|几日"
_ASKS_WHEN = re.compile(_WHEN)
# A question asks for a figure or a date: a sentence without one cannot answer it.
_ASKS_FIGURE = re.compile(rf"多少|多大|多长|多久|多高|多快|多远|比例|占比|{_WHEN}|(?<!哪)几[个家条年月天倍人项次名片颗辆]")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
# The unit a figure question expects ("多少家" wants "…家", "多久" a duration): a
# sentence with a figure in that unit is the likelier answer.
_ASKED_MEASURE_WORD = re.compile(r"(?:多少|几)(?:[万亿千百]|十万|百万|千万)?([个家条年月天倍人项次名辆台票元只座所件份艘位款])")
# What may stand between a measure and "多少" ("利率是多少", "控制在多少", "大概是多少").
_LINK = r"(?:是|为|有|能|会|要|达到?|在|控制在|大概|大约|约|一共|总共|共|预计)*"
_ASKED_UNITS = [
    (re.compile(r"多长|多远"), r"公里|千米|米"),
    (re.compile(r"多久|多长时间"), r"秒|分钟|小时|天|周|个月|年"),
    (re.compile(r"多高|多大比例|比例|占比|百分之几|多少成"), r"%|％|成"),
    (re.compile(r"哪一?年"), r"年"),
    # A rate ("年利率是多少", "不良贷款率控制在多少") is a share; a price, a sum or what a
    # company takes in ("卖多少钱", "总投资是多少", "营收多少") is money.
    (re.compile(rf"率{_LINK}(?:多少|多高|几)"), r"%|％|成|个百分点"),
    (re.compile(rf"多少钱|(?:价格?|价钱|费用|金额|投资|营收|收入|利润|奖金|工资|薪酬|市值|成本){_LINK}(?:多少|多高|几)"),
     r"[美欧港日韩澳加]?元|英镑|美金"),
]
# Where one question holds several ("…多少钱？比上年同期变化多大？", "…？又怎么…"),
# each part needs its own evidence.
_SUBQUESTION_BREAK = re.compile(r"(?<=[？?；;])|[，,](?=又|还有|以及|另外|同时|此外)")
_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年")
# A day or a month the question names ("8月4日", "7月份"); the ends of a range ("1月至6月",
# "1-7月") are not a single period and are left out.
_RANGE = "至到~～\\-—－"
_DATE = re.compile(rf"(?<!\d)(\d{{1,2}})月(?:(\d{{1,2}})[日号](?![{_RANGE}])|份?(?![\d{_RANGE}]))")
_RANGE_START = re.compile(rf"\d[月日号]?[{_RANGE}]$")
# jieba part-of-speech flags of names: place, person, organisation, other proper noun,
# foreign word, abbreviation ("科大" of 科大讯飞).
# ``nz`` is left out: jieba's dictionary tags common words with it ("普通").
ENTITY_FLAGS = frozenset({"ns", "nr", "nrt", "nrfg", "nt", "eng", "j"})
# jieba's new-word guess sometimes glues a conjunction to a name ("盛美上海和中微公司"
# gives "和中微"): a name jieba does not know loses such a first character.
_JOINERS = "和与及跟同或"
# Of the words jieba does not know, only guessed person names and foreign words count:
# its guesses at places and organisations are often pieces of a list ("沪深北" gives "深北").
_GUESSABLE_FLAGS = frozenset({"nr", "nrfg", "eng"})


@dataclass(frozen=True)
class DateRef:
    """A month, or a day of a month, that a question names."""

    month: int
    day: int | None = None

    @property
    def text(self) -> str:
        return f"{self.month}月{self.day}日" if self.day else f"{self.month}月"

    def found_in(self, text: str) -> bool:
        """``text`` (compacted) names this date: the month ("7月"), or for a day the
        day itself ("4日", "4号"), since news write the day alone after the dateline."""
        if self.day is None:
            return re.search(rf"(?<!\d){self.month}月", text) is not None
        return re.search(rf"(?<!\d){self.day}[日号]", text) is not None


class Vocabulary(Protocol):
    """What analysis needs from the index: inverse document frequencies (an IdfTable)."""

    def idf(self, token: str) -> float: ...


def split_subquestions(question: str) -> list[str]:
    """The parts of a compound question, or [question] when it asks one thing."""
    parts = [p.strip(" ，,") for p in _SUBQUESTION_BREAK.split(question)]
    parts = [p for p in parts if len(_QUESTION_NOISE.sub("", p)) >= 4]
    return parts if len(parts) > 1 else [question]


def expected_figure(question: str) -> re.Pattern[str] | None:
    """A pattern for a figure in the unit the question asks for, if it names one."""
    units = [m.group(1) for m in _ASKED_MEASURE_WORD.finditer(question)]
    units += [pattern for asks, pattern in _ASKED_UNITS if asks.search(question)]
    if not units:
        return None
    return re.compile(rf"\d[\d.,]*\s*[十百千万亿]{{0,3}}(?:{'|'.join(units)})")


@dataclass(frozen=True)
class QueryText:
    """One question (or one part of a compound question) in the forms ranking reads."""

    text: str
    tokens: tuple[str, ...]  # jieba tokens (sentence ranking, terms)
    # What BM25 retrieval looks for: the tokens and those of the other names (aliases) of
    # the names it mentions (rag.index.tokenize.query_tokens).
    search_tokens: tuple[str, ...]
    bigrams: frozenset[str]  # character bigrams, punctuation dropped
    asks_figure: bool
    wanted_figure: re.Pattern[str] | None  # a figure in the asked unit
    asks_when: bool  # the figure asked for is a date
    numbers: frozenset[str]  # the numbers the question itself names ("书生·浦语2.0" gives "2.0")

    @classmethod
    def of(cls, text: str) -> QueryText:
        stripped = _QUESTION_NOISE.sub(" ", text)
        chars = word_chars(stripped)
        tokens = tokenize(stripped)
        return cls(
            text=text,
            tokens=tuple(tokens),
            search_tokens=tuple(with_aliases(stripped, tokens)),
            bigrams=frozenset(chars[i : i + 2] for i in range(len(chars) - 1)),
            asks_figure=bool(_ASKS_FIGURE.search(text)),
            wanted_figure=expected_figure(text),
            asks_when=bool(_ASKS_WHEN.search(text)),
            numbers=frozenset(_NUMBER.findall(text)),
        )


@dataclass(frozen=True)
class Query(QueryText):
    """A standalone question with its parts, the years it names and its specific terms."""

    parts: tuple[QueryText, ...] = ()  # one per sub-question; empty for a simple question
    years: frozenset[str] = frozenset()
    # Specific content words (idf at least MIN_TERM_IDF, not question words), longest first.
    terms: tuple[str, ...] = field(default=())
    # Names (places, people, organisations; idf at least MIN_TERM_IDF) and the days or
    # months the question names: what an answer must be about (rag.verify.answerability).
    entities: tuple[str, ...] = field(default=())
    dates: tuple[DateRef, ...] = field(default=())

    @property
    def part_texts(self) -> list[str]:
        return [p.text for p in self.parts] or [self.text]

    @property
    def focuses(self) -> list[QueryText | None]:
        """What each sentence ranking focuses on: every part, or the whole question alone."""
        return list(self.parts) or [None]


def analyse(text: str, vocabulary: Vocabulary) -> Query:
    """Analyse a standalone question once (tokens, parts, asked figure, years, terms)."""
    whole = QueryText.of(text)
    pieces = split_subquestions(text)
    parts = tuple(QueryText.of(p) for p in pieces) if len(pieces) > 1 else ()
    terms = {
        t
        for t in whole.tokens
        if len(t) >= 2 and t not in QUESTION_WORDS and not t.isdigit() and vocabulary.idf(t) >= MIN_TERM_IDF
    }
    return Query(
        **{f.name: getattr(whole, f.name) for f in fields(QueryText)},
        parts=parts,
        years=frozenset(_YEAR.findall(compact(text))),
        terms=tuple(sorted(terms, key=len, reverse=True)),
        entities=question_entities(text, vocabulary),
        dates=question_dates(text),
    )


def question_entities(text: str, vocabulary: Vocabulary) -> tuple[str, ...]:
    """The names a question is about: jieba words tagged as a name (:data:`ENTITY_FLAGS`;
    a word jieba guessed only as a person name or a foreign word) of two characters or
    more, specific enough (idf at least :data:`MIN_TERM_IDF`), not question words, in
    question order."""
    found: dict[str, None] = {}
    for word, flag in tag(_QUESTION_NOISE.sub(" ", text)):
        known = known_word(word)
        if word[0] in _JOINERS and not known:
            word = word[1:]
        if (
            flag in ENTITY_FLAGS
            and (known or flag in _GUESSABLE_FLAGS)
            and len(word) >= 2
            and word not in QUESTION_WORDS
            and not word.isdigit()
            and vocabulary.idf(word) >= MIN_TERM_IDF
        ):
            found.setdefault(word)
    return tuple(found)


def question_dates(text: str) -> tuple[DateRef, ...]:
    """The single days and months a question names ("8月4日", "6月份"), not range ends."""
    found: dict[DateRef, None] = {}
    norm = compact(text)
    for m in _DATE.finditer(norm):
        if _RANGE_START.search(norm[: m.start()]):
            continue
        month, day = int(m.group(1)), (int(m.group(2)) if m.group(2) else None)
        if 1 <= month <= 12 and (day is None or 1 <= day <= 31):
            found.setdefault(DateRef(month, day))
    return tuple(found)
