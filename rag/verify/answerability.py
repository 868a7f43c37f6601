"""Does the answer talk about what the question asked, in the sources' own terms?

A small model given passages on the right topic but without the asked fact tends to
answer with a neighbouring one: asked for 瑞幸's 净利润 it returns the 营业收入 figure
and writes "瑞幸咖啡2023年的净利润为248.6亿元[1]". The citation check passes (the
figure and the company are in the passage); what gives it away is that the answer
asserts a term of the question ("净利润") that no cited passage contains.

:func:`unsupported_question_terms` finds such terms; the service refuses an answer
that has one. Only specific terms count (idf at least :data:`MIN_TERM_IDF`, not a
question word), and a term counts as present when any of its jieba sub-words of two
characters or more is in the passage, so "融资规模" is found through "规模".
"""

from __future__ import annotations

import re
import unicodedata

from rag.answer.evidence import QUESTION_WORDS, IdfTable
from rag.index.tokenize import tokenize
from rag.ingest.chunk import split_sentences

MIN_TERM_IDF = 3.0
"""Below this a term is too common to tell topics apart (e.g. 公司, 市场, 2023)."""

_MARKERS = re.compile(r"\[\d{1,3}\]")


def _norm(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", _MARKERS.sub("", text))).lower()


def question_terms(question: str, idf: IdfTable) -> list[str]:
    """The question's specific content words (longest first)."""
    terms = {
        t
        for t in tokenize(question)
        if len(t) >= 2 and t not in QUESTION_WORDS and not t.isdigit() and idf.idf(t) >= MIN_TERM_IDF
    }
    return sorted(terms, key=len, reverse=True)


def unsupported_question_terms(question: str, answer: str, cited: list[str], idf: IdfTable) -> list[str]:
    """Terms of the question that the answer asserts but none of its cited passages contains."""
    answer_n = _norm(answer)
    source = _norm("".join(cited))
    missing: list[str] = []
    for term in question_terms(question, idf):
        if term not in answer_n or term in source:
            continue
        if any(part in source for part in tokenize(term) if len(part) >= 2 and part != term):
            continue
        if any(term in longer for longer in missing):
            continue
        missing.append(term)
    return missing


# --------------------------------------------------------------------------- near misses
# A figure answers the question only if its own sentence in the source speaks of the
# same year and the same measure. The two substitutions a small model makes most (and
# the citation check cannot see, since the figure *is* in the cited passage):
#   asked 2023, the sentence gives the figure for 2022 ("增长到2022年的3088.7亿元");
#   asked 净利润, the sentence gives 销售额 ("总销售额为248.6亿元").

_YEAR = re.compile(r"(?<!\d)((?:19|20)\d\d)\s*年")
_FIGURE = re.compile(r"(?<![\d.])\d+(?:[.,]\d+)*(?![\d])")

# Words that name one thing among alternatives that are easily swapped for one another
# in finance news, by family. A question that names a member of a family is not
# answered by a figure whose sentence names only *other* members of that family.
QUALIFIERS: dict[str, dict[str, tuple[str, ...]]] = {
    "measure": {
        "revenue": ("营业收入", "营收", "销售额", "营业额", "收入"),
        "profit": ("净利润", "利润", "净利", "盈利", "亏损"),
        "value_added": ("增加值",),
        "gdp": ("生产总值", "gdp"),
        "exports": ("出口",),
        "imports": ("进口",),
        "management_fee": ("管理费",),
        "performance_fee": ("业绩报酬", "carry", "超额收益分成", "业绩提成"),
        "valuation": ("估值", "市值"),
        "rd_spending": ("研发投入", "研发费用", "研发支出"),
        "interest_rate": ("利率",),
    },
    "period": {
        "first_half": ("上半年",),
        "second_half": ("下半年",),
        "full_year": ("全年",),
        "q1": ("一季度",),
        "q2": ("二季度",),
        "q3": ("三季度",),
        "q4": ("四季度",),
    },
    "fund_close": {
        "first_close": ("首次关账", "首轮关账", "首关"),
        "final_close": ("最终关账", "最终关闭", "终关"),
    },
}


def _named(text: str, family: dict[str, tuple[str, ...]]) -> set[str]:
    return {name for name, words in family.items() if any(w in text for w in words)}


def _figure_sentences(figure: str, passages: list[str]) -> list[tuple[str, int]]:
    """(sentence, position of the figure in it) for every source sentence stating the figure."""
    found = []
    for passage in passages:
        for start, end in split_sentences(passage):
            sentence = _norm(passage[start:end])
            # Whole figures only: 27 is not found inside 270 or 1.27.
            found += [(sentence, m.start()) for m in _FIGURE.finditer(sentence) if m.group() == figure]
    return found


def _answer_figures(answer: str, question: str) -> list[str]:
    """The figures an answer asserts, without years and numbers the question already holds."""
    text = _norm(answer)
    years = {m.start(1) for m in _YEAR.finditer(text)}
    question_n = _norm(question)
    return [
        m.group() for m in _FIGURE.finditer(text)
        if m.start() not in years and m.group() not in question_n and len(m.group().replace(".", "")) >= 2
    ]


def near_misses(question: str, answer: str, passages: list[str]) -> list[str]:
    """Why the answer's figures do not answer *this* question (empty: no sign of a near miss).

    Only an answer whose every figure fails counts: one that fits the question is the
    answer, and the others are context ("约合34.5亿美元", "比上年增长…").

    For every figure in the answer, each source sentence stating it is checked: its
    year (the nearest before the figure) must be one the question asks about, and
    when the question names a measure, period or fund close from :data:`QUALIFIERS`,
    the sentence must not name only other members of that family. A figure passes
    when one of its sentences passes.
    """
    question_n = _norm(question)
    asked_years = set(_YEAR.findall(question_n))
    asked = {family: _named(question_n, members) for family, members in QUALIFIERS.items()}

    def mismatch(sentence: str, pos: int, figure: str) -> str | None:
        years_before = _YEAR.findall(sentence[:pos])
        if asked_years and years_before and years_before[-1] not in asked_years and not asked_years & set(_YEAR.findall(sentence)):
            return f"{figure}: {years_before[-1]}年 (asked {'/'.join(sorted(asked_years))}年)"
        for family, members in QUALIFIERS.items():
            stated = _named(sentence, members) if asked[family] else set()
            if stated and not stated & asked[family]:
                return f"{figure}: {'/'.join(sorted(stated))} (asked {'/'.join(sorted(asked[family]))})"
        return None

    reasons: list[str] = []
    for figure in dict.fromkeys(_answer_figures(answer, question)):
        # Not copied from a passage (no sentences): the citation check deals with it.
        problems = [mismatch(sentence, pos, figure) for sentence, pos in _figure_sentences(figure, passages)]
        if problems and all(problems):
            reasons.append(problems[0])  # type: ignore[arg-type]
        elif problems:
            return []  # one figure answers the question: the others are context ("约合…", "比上年…")
    return reasons
