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

from rag.generate.evidence import IdfTable
from rag.index.tokenize import tokenize

MIN_TERM_IDF = 3.0
"""Below this a term is too common to tell topics apart (e.g. 公司, 市场, 2023)."""

# Words that say what is asked, not about what; they may appear in an answer freely.
QUESTION_WORDS = frozenset(
    "哪 哪个 哪家 哪些 哪里 哪一年 哪年 一年 哪一天 一天 几 几个 几年 多大 多长 多久 多高 多快 一共 共 "
    "大约 大概 目前 现在 已经 分别 各 时候 什么样 名字 叫 谁 要求 怎么 如何 为什么 原因 方面 "
    "情况 主要 具体 到底 最终 全年 累计 总共 比例 占比 规模 数量".split()
)
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
