"""The hybrid retriever as a LangChain `BaseRetriever`, so any LangChain chain can use it.

Passes langchain_tests' ``RetrieversIntegrationTests`` (tests/retrieve/test_langchain.py):
``k`` is both a field and an ``invoke(query, k=…)`` keyword, and so are ``filters``.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.retrieve.base import SearchFilters
from rag.retrieve.hybrid import HybridRetriever
from rag.types import ScoredChunk


def to_document(item: ScoredChunk) -> Document:
    """A passage as a LangChain Document: chunk metadata and the three scores in metadata."""
    metadata: dict[str, Any] = {key: value for key, value in item.chunk.to_dict().items() if key != "text"}
    metadata.update(score=item.score, dense_score=item.dense_score, bm25_score=item.bm25_score)
    return Document(page_content=item.chunk.text, metadata=metadata, id=item.chunk.chunk_id)


class HybridLangChainRetriever(BaseRetriever):
    """Wraps a loaded HybridRetriever; scores and metadata travel in Document.metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5
    filters: SearchFilters | None = None

    def _get_relevant_documents(
        self,
        query: str,
        *,
        run_manager: CallbackManagerForRetrieverRun,
        k: int | None = None,
        filters: SearchFilters | None = None,
    ) -> list[Document]:
        """``k`` and ``filters`` given to ``invoke`` override the retriever's own for that call."""
        result = self.retriever.search(
            query, k=k if k is not None else self.k, filters=filters if filters is not None else self.filters
        )
        return [to_document(item) for item in result.results]
