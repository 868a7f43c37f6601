"""Does the answer talk about what the question asked, in the sources' own terms?

A small model given passages on the right topic but without the asked fact tends to
answer with a neighbouring one: asked for 瑞幸's 净利润 it returns the 营业收入 figure
and writes "瑞幸咖啡2023年的净利润为248.6亿元[1]". The citation check passes (the
figure and the company are in the passage); what gives it away is that the answer
asserts a term of the question ("净利润") that no cited passage contains.

:func:`unsupported_question_terms` finds such terms; the service reports them
(``Answer.unverified_terms``). Only specific terms count (``Query.terms``: idf at least
:data:`rag.query.MIN_TERM_IDF`, not a question word), and a term counts as present when any of its jieba sub-words of two
characters or more is in the passage, so "融资规模" is found through "规模".
"""

from __future__ import annotations

import re

from rag.index.tokenize import active_lexicon, tokenize
from rag.query import Query
from rag.text.normalize import compact
from rag.text.sentences import sentence_spans
from rag.wordlists import load_families, load_set


def unsupported_question_terms(query: Query, answer: str, cited: list[str]) -> list[str]:
    """Terms of the question (``query.terms``) that the answer asserts but none of its
    cited passages contains."""
    answer_n = compact(answer)
    source = compact("".join(cited))
    missing: list[str] = []
    for term in query.terms:
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

# Words that name one thing among alternatives, by family (rag/wordlists/qualifiers.txt).
QUALIFIERS = load_families("qualifiers")


def _named(text: str, family: dict[str, tuple[str, ...]]) -> set[str]:
    return {name for name, words in family.items() if any(w in text for w in words)}


def _figure_sentences(figure: str, passages: list[str]) -> list[tuple[str, int]]:
    """(sentence, position of the figure in it) for every source sentence stating the figure."""
    found = []
    for passage in passages:
        for start, end in sentence_spans(passage):
            sentence = compact(passage[start:end])
            # Whole figures only: 27 is not found inside 270 or 1.27.
            found += [(sentence, m.start()) for m in _FIGURE.finditer(sentence) if m.group() == figure]
    return found


def _answer_figures(answer: str, question: str) -> list[str]:
    """The figures an answer asserts, without years and numbers the question already holds."""
    text = compact(answer)
    years = {m.start(1) for m in _YEAR.finditer(text)}
    question_n = compact(question)
    return [
        m.group() for m in _FIGURE.finditer(text)
        if m.start() not in years and m.group() not in question_n and len(m.group().replace(".", "")) >= 2
    ]


def near_misses(query: Query, answer: str, passages: list[str]) -> list[str]:
    """Why the answer's figures do not answer *this* question (empty: no sign of a near miss).

    Only an answer whose every figure fails counts: one that fits the question is the
    answer, and the others are context ("约合34.5亿美元", "比上年增长…").

    For every figure in the answer, each source sentence stating it is checked: its
    year (the nearest before the figure) must be one the question asks about, and
    when the question names a measure, period or fund close from :data:`QUALIFIERS`,
    the sentence must not name only other members of that family. A figure passes
    when one of its sentences passes.
    """
    question_n = compact(query.text)
    asked_years = set(query.years)
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
    for figure in dict.fromkeys(_answer_figures(answer, query.text)):
        # Not copied from a passage (no sentences): the citation check deals with it.
        problems = [mismatch(sentence, pos, figure) for sentence, pos in _figure_sentences(figure, passages)]
        if problems and all(problems):
            reasons.append(problems[0])  # type: ignore[arg-type]
        elif problems:
            return []  # one figure answers the question: the others are context ("约合…", "比上年…")
    return reasons


# --------------------------------------------------------------------------- what is asked about
# A near miss on real news is most often an answer about a sibling: asked for 科大讯飞's
# revenue, the knowledge base has 宁德时代's; asked about 吉林省, it has 舒兰市; asked
# for 7月29日's price, it has 8月3日's. The passage then lacks the question's own name
# or day, which is what :func:`missing_specifics` looks for.

ENTITY_SUFFIXES = tuple(sorted(load_set("entity_suffixes"), key=len, reverse=True))


def entity_present(entity: str, source: str) -> bool:
    """``entity`` (folded) or another name of it that the corpus defines (the lexicon in
    use: "中汽协" is "中国汽车工业协会") is in ``source`` (compacted), whole or without a
    generic ending (:data:`ENTITY_SUFFIXES`: "黑龙江省" is found as "黑龙江"). Unlike a
    topic word, a name is not found through a sub-word: "白云机场" is not "机场"."""
    return any(_name_in(name, source) for name in (entity, *active_lexicon().others(entity)))


def _name_in(entity: str, source: str) -> bool:
    if entity in source:
        return True
    for suffix in ENTITY_SUFFIXES:
        if entity.endswith(suffix) and len(entity) - len(suffix) >= 2 and entity[: -len(suffix)] in source:
            return True
    return False


def missing_specifics(query: Query, source: str) -> list[str]:
    """The names (``Query.entities``) and days or months (``Query.dates``) of a simple
    question that ``source`` (a passage with its title) does not contain.

    A compound question ("A和B分别…", "…？又…？") is left alone (empty list): its names may
    be spread over passages that each answer one part, and jieba's guesses at new words in
    such lists ("沪深北") are least reliable.
    """
    if query.parts or not (query.entities or query.dates):
        return []
    text = compact(source)
    missing = [e for e in query.entities if not entity_present(e, text)]
    missing += [d.text for d in query.dates if not d.found_in(text)]
    return missing
