"""jieba tokens for BM25: search-mode segmentation, lower-cased, punctuation and stop words dropped.

One jieba dictionary serves the whole process: jieba's own, plus the user dictionary
(:class:`Lexicon`) of the index being served, which names its corpus defines
(rag.ingest.names). :func:`use_lexicon` swaps that user dictionary, so that every cut
(BM25 at ingest and at query time, sentence ranking, the answerability check) sees the
index's names whole.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

log = logging.getLogger(__name__)

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
    return _search_tokens(_jieba().dt, text)


def _search_tokens(tokenizer, text: str) -> list[str]:  # noqa: ANN001 (a jieba.Tokenizer)
    text = unicodedata.normalize("NFKC", text).lower()
    return [
        token
        for token in tokenizer.lcut_for_search(text)
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


def base_flag(word: str) -> str | None:
    """jieba's part-of-speech tag of ``word`` in its own dictionary (None: not a word there)."""
    return _plain()[1].word_tag_tab.get(word) if _plain()[0].FREQ.get(word) else None


def base_word(word: str) -> bool:
    """``word`` is in jieba's own dictionary, whatever user dictionary is in use."""
    return base_flag(word) is not None


def tag_plain(text: str) -> list[tuple[str, str]]:
    """:func:`tag` by jieba's own dictionary alone: what learning a lexicon reads, so that
    what it learns does not depend on the lexicon in use when it runs."""
    return [(pair.word, pair.flag) for pair in _plain()[1].lcut(text) if pair.word.strip()]


@lru_cache(maxsize=1)
def _plain():
    import jieba
    import jieba.posseg

    _jieba()
    tokenizer = jieba.Tokenizer()
    tokenizer.initialize()
    return tokenizer, jieba.posseg.POSTokenizer(tokenizer)


# --------------------------------------------------------------------------- user dictionary


@dataclass(frozen=True)
class Lexicon:
    """An index's user dictionary: the names its corpus defines, and their aliases."""

    words: Mapping[str, str] = field(default_factory=dict)  # word -> part-of-speech tag
    # A name -> the other names of the same thing ("中汽协" <-> "中国汽车工业协会").
    aliases: Mapping[str, tuple[str, ...]] = field(default_factory=dict)

    def to_json(self) -> str:
        return json.dumps({"words": dict(self.words), "aliases": {k: list(v) for k, v in self.aliases.items()}},
                          ensure_ascii=False, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> Lexicon:
        data = json.loads(text)
        return cls(
            words={str(w): str(t) for w, t in data["words"].items()},
            aliases={str(k): tuple(str(x) for x in v) for k, v in data["aliases"].items()},
        )

    def others(self, name: str) -> tuple[str, ...]:
        return tuple(self.aliases.get(name, ()))

    @cached_property
    def _longest_first(self) -> list[str]:
        return sorted(self.aliases, key=len, reverse=True)

    def named_in(self, text: str) -> list[str]:
        """The names with aliases that ``text`` contains, longest first, none inside a longer one found."""
        found: list[str] = []
        for name in self._longest_first:
            if name in text and not any(name in longer for longer in found):
                found.append(name)
        return found


EMPTY_LEXICON = Lexicon()
_lexicon_lock = threading.Lock()
_active: Lexicon = EMPTY_LEXICON
_added: dict[str, int] = {}  # user word -> the frequency it was added with


def active_lexicon() -> Lexicon:
    return _active


def _forms(lexicon: Lexicon) -> list[tuple[str, str]]:
    return sorted({(form, flag) for word, flag in lexicon.words.items() for form in (word, word.lower())})


def use_lexicon(lexicon: Lexicon) -> None:
    """Make jieba's dictionary its own plus exactly ``lexicon``'s words (each tagged), dropping
    the words of the lexicon used before. Words jieba already knows are left as they are."""
    global _active
    if lexicon is _active:  # every question checks; almost always this
        return
    with _lexicon_lock:
        if lexicon == _active:
            _active = lexicon
            return
        tokenizer = _jieba().dt
        import jieba.posseg

        tags = jieba.posseg.dt.word_tag_tab
        # Every word is taken out and the new ones added afresh, in one order: the
        # frequency jieba gives a word depends on the words already there, and the cuts must
        # be those of tokenizer_for(lexicon) that the index's chunks were cut with.
        for word, freq in _added.items():
            tokenizer.FREQ[word] = 0  # as an unknown word: only a prefix of longer ones
            tokenizer.total -= freq
            tags.pop(word, None)
        _added.clear()
        # tokenize() cuts lower-cased text, tag() the text as written: both forms of "SIM卡".
        for word, flag in _forms(lexicon):
            if not tokenizer.FREQ.get(word):
                tokenizer.add_word(word, None, flag)
                _added[word] = tokenizer.FREQ[word]
        jieba.posseg.dt.makesure_userdict_loaded()
        _active = lexicon
        if lexicon.words:
            log.info("jieba user dictionary: %d names learned from the corpus", len(_added))


def tokenizer_for(lexicon: Lexicon) -> Callable[[str], list[str]]:
    """:func:`tokenize` as it will be once ``lexicon`` is in use, without putting it in use:
    an ingest cuts its chunks with the lexicon it learned while the process goes on
    answering with the one of the version it serves."""
    if lexicon == _active:
        return tokenize
    import jieba

    plain = _plain()[0]
    private = jieba.Tokenizer()
    private.FREQ, private.total, private.initialized = dict(plain.FREQ), plain.total, True
    for word, _flag in _forms(lexicon):
        if not private.FREQ.get(word):
            private.add_word(word)
    return lambda text: _search_tokens(private, text)


def query_tokens(text: str) -> list[str]:
    """:func:`tokenize` of a question, with the aliases of the names it mentions (:func:`with_aliases`)."""
    return with_aliases(text, tokenize(text))


def with_aliases(text: str, tokens: list[str]) -> list[str]:
    """``tokens`` (of ``text``) plus the other names (aliases) of the names ``text``
    mentions: asked about 中汽协, BM25 also looks for 中国汽车工业协会. Only as whole words
    (a passage holding the name has it as one token): its pieces (中国, 协会) would pull in
    every passage about anything Chinese or any association."""
    tokens = list(tokens)
    folded = unicodedata.normalize("NFKC", text).lower()
    for name in _active.named_in(folded):
        for other in _active.others(name):
            if other not in tokens and other in tokenize(other):
                tokens.append(other)
    return tokens


def warm_up() -> None:
    """Load jieba's dictionary (~2 s) and its part-of-speech model (~0.8 s, read by
    :func:`tag` for every question) now, not while the first user waits."""
    tag("预热")


def known_word(word: str) -> bool:
    """``word`` is in jieba's dictionary (not a new word its HMM guessed)."""
    return bool(_jieba().dt.FREQ.get(word))
