"""Plain data objects passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class RawDocument:
    """Text as it came out of a loader, before cleaning and article segmentation."""

    text: str
    file: str  # file name relative to the corpus root
    title: str = ""
    date: str = ""
    source: str = ""
    # True when the loader already yields one article per document (jsonl, html):
    # segmentation then keeps it whole instead of looking for article boundaries.
    single_article: bool = False


@dataclass
class Article:
    file: str
    index: int  # position of the article inside its file
    title: str
    text: str  # cleaned body; chunk offsets point into this
    section: str = ""
    byline: str = ""
    source: str = ""
    date: str = ""


@dataclass
class Chunk:
    chunk_id: str  # content hash: stable across runs for the same text and place
    file: str
    article_index: int
    title: str
    section: str
    byline: str
    source: str
    text: str  # the passage itself (shown to the user, cited)
    start: int  # character offsets into Article.text
    end: int
    date: str = ""

    @property
    def indexed_text(self) -> str:
        """What gets embedded and BM25-indexed: the title gives the passage its topic."""
        return f"{self.title}\n{self.text}" if self.title else self.text

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ScoredChunk:
    chunk: Chunk
    score: float
    dense_score: float | None = None
    bm25_score: float | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_public(self) -> dict[str, Any]:
        c = self.chunk
        return {
            "text": c.text,
            "file": c.file,
            "title": c.title,
            "section": c.section,
            "score": round(float(self.score), 6),
            "chunk_id": c.chunk_id,
        }
