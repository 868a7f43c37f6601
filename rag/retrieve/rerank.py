"""Optional cross-encoder reranking, off unless RAG_RERANKER_MODEL names a model.

Like the embedder, the constructor loads nothing: :meth:`CrossEncoderReranker.warm_up`
loads the model, and scoring before it loads it on the spot.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import replace
from typing import Any

from rag.types import ScoredChunk

log = logging.getLogger(__name__)


class CrossEncoderReranker:
    """Re-scores (query, passage) pairs with a sentence-transformers CrossEncoder."""

    def __init__(self, model_name_or_path: str, device: str = "cpu", batch_size: int = 16):
        self.name = model_name_or_path
        self.device = device
        self.batch_size = batch_size
        self._model: Any = None
        self._lock = threading.Lock()

    def warm_up(self) -> None:
        """Load the model (once)."""
        with self._lock:
            if self._model is None:
                from sentence_transformers import CrossEncoder

                log.info("loading reranker %s", self.name)
                self._model = CrossEncoder(self.name, device=self.device)

    def score(self, query: str, passages: list[str]) -> list[float]:
        if not passages:
            return []
        self.warm_up()
        scores = self._model.predict([(query, p) for p in passages], batch_size=self.batch_size,
                                     show_progress_bar=False)
        return [float(s) for s in scores]

    def rerank(self, query: str, ranked: list[ScoredChunk]) -> list[ScoredChunk]:
        scores = self.score(query, [r.chunk.indexed_text for r in ranked])
        rescored = [
            replace(item, score=s, extra={**item.extra, "fusion_score": item.score}) for item, s in zip(ranked, scores)
        ]
        return sorted(rescored, key=lambda r: -r.score)
