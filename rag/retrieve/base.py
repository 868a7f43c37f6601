"""The retriever interface, the filters it takes and the objects it returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from rag.types import Chunk, Confidence, ScoredChunk

# Which candidate lists a search ranks by: both fused, or one alone (for diagnosis).
Method = Literal["hybrid", "dense", "bm25"]


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


@runtime_checkable
class Retriever(Protocol):
    """Any retriever: returns ranked passages with metadata and a confidence signal.

    Contract (tests/retrieve/test_contract.py): at most k results, best first by
    ``score``; every result matches the filters; an empty index or a filter matching
    nothing gives no results and a not-relevant confidence.
    """

    def search(
        self, query: str, k: int | None = None, filters: SearchFilters | None = None, method: Method = "hybrid"
    ) -> RetrievalResult: ...

    def warm_up(self) -> None:
        """Load models and caches now, so the first search is as fast as the rest."""
        ...


class Reranker(Protocol):
    """Re-orders a ranked list by a finer (slower) relevance model."""

    def warm_up(self) -> None: ...

    def rerank(self, query: str, ranked: list[ScoredChunk]) -> list[ScoredChunk]: ...
