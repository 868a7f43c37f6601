"""jieba tokens for BM25: search-mode segmentation, lower-cased, punctuation and stop words dropped."""

from __future__ import annotations

import logging
import re
import unicodedata
from functools import lru_cache

_WORD = re.compile(r"[\w\u3400-\u9fff]", re.UNICODE)
# Function words that match everywhere and only add noise to BM25 scores.
STOPWORDS = frozenset(
    "的 了 和 是 在 也 与 及 等 对 为 将 从 而 并 或 就 都 被 把 由 以 于 其 之 这 那 有 个 中 上 下 "
    "一个 我们 他们 什么 哪些 多少 如何 怎么 怎样 为什么 是否 吗 呢 吧 啊 请问 请 能 会 可以 "
    "the a an of to and in on for is are".split()
)


@lru_cache(maxsize=1)
def _jieba():
    import jieba

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    return jieba


def tokenize(text: str) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    return [
        token
        for token in _jieba().lcut_for_search(text)
        if token.strip() and _WORD.search(token) and token not in STOPWORDS
    ]


def tag(text: str) -> list[tuple[str, str]]:
    """(word, part-of-speech flag) pairs of jieba's precise mode, NFKC and lower-cased:
    what the answerability check reads to find the names a question asks about
    (``ns`` place, ``nr`` person, ``nt`` organisation, ``nz`` other proper noun, ``eng``)."""
    _jieba()
    import jieba.posseg

    text = unicodedata.normalize("NFKC", text)
    return [(pair.word.lower(), pair.flag) for pair in jieba.posseg.lcut(text) if pair.word.strip()]


def warm_up() -> None:
    """Load jieba's dictionary (~2 s) and its part-of-speech model (~0.8 s, read by
    :func:`tag` for every question) now, not while the first user waits."""
    tag("预热")


def known_word(word: str) -> bool:
    """``word`` is in jieba's dictionary (not a new word its HMM guessed)."""
    return bool(_jieba().dt.FREQ.get(word))
