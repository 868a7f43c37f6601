"""What the knowledge base holds, as the chat tab and the admin tab show it.

The chat tab opens with the counts (files, articles, last update) and example
questions made from article titles, so a new user sees what can be asked; the admin
tab lists each file's article titles. Both read the live index version once.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from rag.documents import FileInfo
from rag.types import Chunk
from ui.render import escape

EXAMPLE_COUNT = 4
_TITLE_CHARS = (6, 32)  # shorter is a section label ("创新园区"), longer a run-on headline
_CJK = re.compile(r"[\u4e00-\u9fff]")


@dataclass(frozen=True)
class KnowledgeBaseOverview:
    files: int
    articles: int
    chunks: int
    updated: float | None  # when the live index version was written (epoch seconds)
    titles: dict[str, list[str]] = field(default_factory=dict)  # file -> its article titles, in order

    @property
    def all_titles(self) -> list[str]:
        return [title for titles in self.titles.values() for title in titles]


def titles_by_file(chunks: Iterable[Chunk]) -> dict[str, list[str]]:
    """Each file's article titles in article order (every chunk carries its article's title)."""
    found: dict[str, dict[int, str]] = {}
    for chunk in chunks:
        found.setdefault(chunk.file, {}).setdefault(chunk.article_index, chunk.title)
    return {file: [t for _, t in sorted(articles.items()) if t] for file, articles in sorted(found.items())}


def build_overview(files: list[FileInfo], chunks: Iterable[Chunk], updated: float | None) -> KnowledgeBaseOverview:
    return KnowledgeBaseOverview(
        files=len(files),
        articles=sum(f.articles for f in files),
        chunks=sum(f.chunks for f in files),
        updated=updated,
        titles=titles_by_file(chunks),
    )


def _as_question(title: str) -> str:
    title = title.strip()
    if title.endswith(("？", "?")):
        return title  # headlines that ask ("北京金融街有何魅力？") are questions already
    return f"「{title}」讲了什么？"


def example_questions(titles: Iterable[str], count: int = EXAMPLE_COUNT) -> list[str]:
    """``count`` questions about articles of the knowledge base, the same for the same titles.

    Titles are ordered by a hash, not picked at random, so every visitor (and every test)
    sees the same examples until the documents change; the hash spreads the choice over
    files instead of taking the first file's first articles.
    """
    low, high = _TITLE_CHARS
    usable = {t.strip() for t in titles if low <= len(t.strip()) <= high and len(_CJK.findall(t)) >= low}
    ranked = sorted(usable, key=lambda t: hashlib.sha256(t.encode("utf-8")).hexdigest())
    return [_as_question(t) for t in ranked[:count]]


def render_overview(overview: KnowledgeBaseOverview) -> str:
    """One line for the chat tab: what the knowledge base holds and how fresh it is."""
    if not overview.files:
        return '<div class="rag-overview">知识库为空：请在「管理」页上传文档。</div>'
    updated = time.strftime("%Y-%m-%d %H:%M", time.localtime(overview.updated)) if overview.updated else "未知"
    return (
        f'<div class="rag-overview">知识库共 <b>{overview.files}</b> 个文件、<b>{overview.articles}</b> 篇文章'
        f"（{overview.chunks} 个段落），最近更新：{escape(updated)}。</div>"
    )


def title_summary(titles: list[str], shown: int = 3) -> str:
    """A file's titles for one table cell: the first few, then how many more."""
    if not titles:
        return ""
    head = "；".join(titles[:shown])
    return head if len(titles) <= shown else f"{head} 等 {len(titles)} 篇"
