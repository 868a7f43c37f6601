"""The retriever interface and the objects it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol

from rag.types import Chunk, Confidence, ScoredChunk


@dataclass
class SearchFilters:
    """Restrict a search to some files, sections or article titles (substring match on titles)."""

    files: list[str] = field(default_factory=list)
    sections: list[str] = field(default_factory=list)
    title_contains: str = ""

    def is_empty(self) -> bool:
        return not (self.files or self.sections or self.title_contains)

    def matches(self, chunk: Chunk) -> bool:
        if self.files and chunk.file not in self.files:
            return False
        if self.sections and chunk.section not in self.sections:
            return False
        if self.title_contains and self.title_contains not in chunk.title:
            return False
        return True


@dataclass
class RetrievalResult:
    query: str
    results: list[ScoredChunk]
    confidence: Confidence

    def to_public(self) -> dict[str, Any]:
        """The `rag search --json` / `POST /api/search` object."""
        return {"query": self.query, "results": [r.to_public() for r in self.results]}


class Retriever(Protocol):
    """Any retriever: returns ranked passages with metadata and a confidence signal."""

    def search(self, query: str, k: int | None = None, filters: SearchFilters | None = None) -> RetrievalResult: ...
