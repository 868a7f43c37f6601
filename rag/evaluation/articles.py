"""The tune/test split by article, and the cleaned text of each article it names.

Why here: the split (``eval/datasets/split.json``) names articles by id ("A42") with
their file and position; the dataset validator, the merge script and the tests all
need to resolve an id to the article *as the product ingests it* (cleaned by
:func:`rag.ingest.pipeline.articles_from_file`), because an evidence quote that is
only in the raw file can never be in a retrieved passage. The split itself was made
once, before any tuning, and is only read here, never rewritten.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from rag.config import PROJECT_ROOT
from rag.ingest.pipeline import articles_from_file

DEFAULT_SPLIT_FILE = PROJECT_ROOT / "eval" / "datasets" / "split.json"
SPLITS: tuple[str, ...] = ("tune", "test")

_WS_RE = re.compile(r"\s+")


def strip_whitespace(text: str) -> str:
    """All (Unicode) whitespace removed: the corpus is hard-wrapped and full of stray spaces."""
    return _WS_RE.sub("", text)


@dataclass(frozen=True)
class ArticleRef:
    """One article of the split: its id, where it lives, and which split it belongs to."""

    id: str
    file: str
    index: int
    title: str
    split: str


def load_split(path: str | Path = DEFAULT_SPLIT_FILE) -> dict[str, ArticleRef]:
    """The split file's articles by id (``{}`` when the file does not exist)."""
    path = Path(path)
    if not path.is_file():
        return {}
    data = json.loads(path.read_text(encoding="utf-8"))
    refs = [
        ArticleRef(str(a["article"]), str(a["file"]), int(a["index"]), str(a.get("title", "")), str(a["split"]))
        for a in data["articles"]
    ]
    return {r.id: r for r in refs}


@dataclass(frozen=True)
class CleanArticle:
    """An article of the split with its cleaned title and body."""

    ref: ArticleRef
    title: str
    text: str

    @cached_property
    def searchable(self) -> str:
        """Title and body without whitespace: where an evidence quote must be found.

        The title counts because segmentation sometimes runs the first line of the
        body into the title (the product indexes ``title + text`` together).
        """
        return strip_whitespace(f"{self.title}\n{self.text}")

    def holds(self, quote: str) -> bool:
        return bool(strip_whitespace(quote)) and strip_whitespace(quote) in self.searchable


@dataclass(frozen=True)
class Corpus:
    """What evidence quotes are checked against: every cleaned article, and the split's by id."""

    articles: dict[str, CleanArticle]  # the split's articles by id ("A42")
    by_file: dict[str, list[CleanArticle]]  # every cleaned article of each corpus file, in order
    problems: tuple[str, ...] = ()  # a stale or broken split file

    def split_of(self, article_id: str) -> str | None:
        article = self.articles.get(article_id)
        return article.ref.split if article else None


def load_article_corpus(corpus_dir: str | Path, split_file: str | Path = DEFAULT_SPLIT_FILE) -> Corpus:
    """Clean every ``*.txt`` of ``corpus_dir`` as the product ingests it; name the split's articles.

    Articles the split does not list (a corpus without ``split.json``) get the id
    ``<file>#<index>`` and no split. A split entry whose file is absent, whose index is
    out of range or whose title differs from the cleaned article is a problem: the
    split would then name another article than the one it was made for.
    """
    corpus_dir = Path(corpus_dir)
    refs = load_split(split_file)
    ref_at = {(r.file, r.index): r for r in refs.values()}
    by_file: dict[str, list[CleanArticle]] = {}
    for path in sorted(corpus_dir.glob("*.txt")):
        by_file[path.name] = [
            CleanArticle(
                ref_at.get((path.name, art.index))
                or ArticleRef(f"{path.name}#{art.index}", path.name, art.index, art.title, ""),
                art.title,
                art.text,
            )
            for art in articles_from_file(path, path.name)
        ]
    named: dict[str, CleanArticle] = {}
    problems: list[str] = []
    for ref in refs.values():
        articles = by_file.get(ref.file, [])
        if ref.index >= len(articles):
            problems.append(f"split: {ref.id} names article {ref.index} of {ref.file}, which does not exist")
        elif ref.title and articles[ref.index].title != ref.title:
            problems.append(
                f"split: {ref.id} title {ref.title[:20]!r} differs from the cleaned {articles[ref.index].title[:20]!r}"
            )
        else:
            named[ref.id] = articles[ref.index]
    return Corpus(named, by_file, tuple(problems))
