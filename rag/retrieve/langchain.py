"""The hybrid retriever as a LangChain `BaseRetriever`, so any LangChain chain can use it."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from rag.retrieve.base import SearchFilters
from rag.retrieve.hybrid import HybridRetriever


class HybridLangChainRetriever(BaseRetriever):
    """Wraps a loaded HybridRetriever; scores and metadata travel in Document.metadata."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    retriever: HybridRetriever
    k: int = 5
    filters: SearchFilters | None = None

    def _get_relevant_documents(self, query: str, *, run_manager: CallbackManagerForRetrieverRun) -> list[Document]:
        result = self.retriever.search(query, k=self.k, filters=self.filters)
        documents = []
        for item in result.results:
            metadata: dict[str, Any] = {
                key: value for key, value in item.chunk.to_dict().items() if key != "text"
            }
            metadata.update(score=item.score, dense_score=item.dense_score, bm25_score=item.bm25_score)
            documents.append(Document(page_content=item.chunk.text, metadata=metadata, id=item.chunk.chunk_id))
        return documents
