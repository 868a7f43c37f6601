"""An embedder that calls an OpenAI-compatible ``/v1/embeddings`` endpoint (TEI, vLLM,
Infinity, or another ``rag serve``), so embedding scales apart from the answering servers.

Servers such as TEI and vLLM embed exactly the text they are sent, so the e5-style query
and passage prefixes are added here, as the local embedders add them. Vectors are
L2-normalised here as well: not every server normalises, and the index compares by inner
product. Constructing one is cheap; :meth:`warm_up` (or the first call) learns the
model name (when not configured) and the dimension from the server.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import numpy as np

from rag.errors import RagError

log = logging.getLogger(__name__)

WARM_UP_TEXT = "预热"


class EmbeddingServiceError(RagError):
    """The embedding endpoint cannot be reached or answered with an error."""


class RemoteEmbedder:
    """Implements :class:`rag.embed.base.Embedder` over HTTP with the ``openai`` client."""

    def __init__(
        self,
        base_url: str,
        model: str = "",
        api_key: str = "not-needed",
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
        timeout_s: float = 60.0,
    ):
        self.base_url = base_url.rstrip("/")
        self.model = model
        # The manifest name: the served model when configured, else the endpoint (an index is
        # only reused by an embedder of the same name).
        self.name = model or self.base_url
        self.api_key = api_key
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = max(batch_size, 1)
        self.timeout_s = timeout_s
        self._client: Any = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        with self._lock:
            if self._client is None:
                from openai import OpenAI

                self._client = OpenAI(base_url=self.base_url, api_key=self.api_key or "not-needed",
                                      timeout=self.timeout_s, max_retries=1)
            if not self.model:
                models = self._request(lambda: self._client.models.list().data)
                if not models:
                    raise EmbeddingServiceError(f"嵌入服务没有列出任何模型 (the embedding endpoint {self.base_url} lists no model)")
                self.model = models[0].id
        if self._dimension is None:
            self._dimension = int(self._embed([self.passage_prefix + WARM_UP_TEXT]).shape[1])
            log.info("remote embedder %s at %s: dimension %d", self.model, self.base_url, self._dimension)

    @property
    def dimension(self) -> int:
        if self._dimension is None:
            self.warm_up()
        assert self._dimension is not None
        return self._dimension

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        parts = [
            self._embed([self.passage_prefix + t for t in texts[start : start + self.batch_size]])
            for start in range(0, len(texts), self.batch_size)
        ]
        return np.concatenate(parts)

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.query_prefix + text])[0]

    def _embed(self, inputs: list[str]) -> np.ndarray:
        if self._client is None:
            self.warm_up()
        response = self._request(lambda: self._client.embeddings.create(model=self.model, input=inputs))
        rows = sorted(response.data, key=lambda item: item.index)
        if len(rows) != len(inputs):
            raise EmbeddingServiceError(
                f"嵌入服务返回了 {len(rows)} 个向量，请求了 {len(inputs)} 个 (the endpoint returned {len(rows)} vectors for {len(inputs)} inputs)"
            )
        vectors = np.asarray([row.embedding for row in rows], dtype=np.float32)
        norms = np.linalg.norm(vectors, axis=1, keepdims=True)
        return vectors / np.where(norms == 0, 1.0, norms)

    def _request(self, call: Any) -> Any:
        import openai

        try:
            return call()
        except openai.APIStatusError as exc:
            raise EmbeddingServiceError(
                f"嵌入服务返回错误 {exc.status_code} (embedding endpoint {self.base_url} answered {exc.status_code}: {exc.message})"
            ) from None
        except openai.APIError as exc:  # connection refused, timeout
            raise EmbeddingServiceError(
                f"无法连接嵌入服务 {self.base_url}，请检查 RAG_EMBEDDING_BASE_URL (cannot reach the embedding endpoint: {exc})"
            ) from None
