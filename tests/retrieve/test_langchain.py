"""The LangChain adapter: langchain_tests' standard retriever suite (hash embedder), then the real index."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.documents import Document
from langchain_tests.integration_tests import RetrieversIntegrationTests

from rag.retrieve.base import SearchFilters
from rag.retrieve.hybrid import HybridRetriever
from rag.retrieve.langchain import HybridLangChainRetriever

IN_CORPUS = "黑石BXPE基金管理费"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"  # LangChain's async callback manager runs on asyncio only


class TestStandardSuite(RetrieversIntegrationTests):
    """The suite reads its constructor arguments from properties; the small index comes from a fixture.

    Its one async test runs under anyio's plugin (the mark touches coroutines only),
    since pytest-asyncio runs in strict mode here and the suite may not be overridden.
    """

    pytestmark = pytest.mark.anyio

    @pytest.fixture(autouse=True)
    def use_small_index(self, small_retriever: HybridRetriever) -> None:
        self.hybrid = small_retriever

    @property
    def retriever_constructor(self) -> type[HybridLangChainRetriever]:
        return HybridLangChainRetriever

    @property
    def retriever_constructor_params(self) -> dict[str, Any]:
        return {"retriever": self.hybrid, "k": 2}

    @property
    def retriever_query_example(self) -> str:
        return "金融街集聚了多少家金融机构"


def test_invoke_arguments_override_the_fields_for_one_call(small_retriever):
    lc = HybridLangChainRetriever(retriever=small_retriever, k=2)
    assert len(lc.invoke("金融机构", k=4)) == 4
    assert len(lc.invoke("金融机构")) == 2  # the field is unchanged
    only_city = lc.invoke("金融机构", filters=SearchFilters(files=["city.txt"]))
    assert only_city and all(d.metadata["file"] == "city.txt" for d in only_city)


# ------------------------------------------------------------------ the real index
def test_documents_carry_the_passage_and_its_scores(real_retriever):
    retriever = real_retriever
    lc = HybridLangChainRetriever(retriever=retriever, k=3)
    docs = lc.invoke(IN_CORPUS)
    assert len(docs) == 3 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert "1.25%" in top.page_content
    assert top.metadata["file"].startswith("000")
    assert top.id == top.metadata["chunk_id"]
    for key in ("file", "title", "section", "chunk_id", "article_index", "start", "end", "score", "dense_score",
                "bm25_score"):
        assert key in top.metadata
    assert "text" not in top.metadata
    direct = retriever.search(IN_CORPUS, k=3)
    assert [d.metadata["chunk_id"] for d in docs] == [r.chunk.chunk_id for r in direct.results]
    assert [d.metadata["score"] for d in docs] == pytest.approx([r.score for r in direct.results])

    name = next(n for n in retriever.index.manifest.files if n.startswith("003"))
    filtered = HybridLangChainRetriever(retriever=retriever, k=2, filters=SearchFilters(files=[name])).invoke(IN_CORPUS)
    assert filtered and len(filtered) <= 2
    assert all(d.metadata["file"] == name for d in filtered)
