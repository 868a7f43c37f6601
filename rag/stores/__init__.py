"""Retrieval stores: one interface (:class:`rag.stores.base.RetrievalStore`) over the embedded
versioned folder (FAISS + bm25s + SQLite) and over Milvus, with the retriever and the
incremental ingest that work on either. ``RAG_STORE`` picks one (:mod:`rag.stores.factory`).
"""
