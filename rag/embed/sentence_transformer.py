"""Sentence-transformers embedder: the default multilingual-e5-small or any model from `.env`.

Constructing the embedder loads nothing; :meth:`SentenceTransformerEmbedder.warm_up`
loads the model (seconds). Embedding, or asking for the dimension, before warm_up
warms up on the spot, so a caller that forgets it is slow once, never wrong.
"""

from __future__ import annotations

import logging
import os
import threading
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.embed.base import Embedder

log = logging.getLogger(__name__)


class SentenceTransformerEmbedder:
    """Wraps a SentenceTransformer with the query/passage prefixes e5-style models need."""

    def __init__(
        self,
        model_name_or_path: str,
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        batch_size: int = 32,
        device: str = "cpu",
    ) -> None:
        if Path(model_name_or_path).exists():
            # A local folder must never trigger a hub lookup (air-gapped intranets); set
            # before sentence-transformers (and so huggingface_hub) is first imported.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        elif model_name_or_path.startswith(("/", ".")):
            # Checked here, not at warm-up: a missing model should fail the command that names it.
            raise FileNotFoundError(
                f"embedding model folder {model_name_or_path} does not exist; run `rag setup` to convert it"
            )
        self.name = model_name_or_path
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.batch_size = batch_size
        self.device = device
        self._model: Any = None
        self._lock = threading.Lock()

    @property
    def is_loaded(self) -> bool:
        return self._model is not None

    def warm_up(self) -> None:
        """Load the model (once; later calls return at once)."""
        with self._lock:
            if self._model is not None:
                return
            from sentence_transformers import SentenceTransformer

            log.info("loading embedding model %s", self.name)
            self._model = SentenceTransformer(self.name, device=self.device)

    @property
    def model(self) -> Any:
        """The loaded SentenceTransformer (loading it now if warm_up was not called)."""
        if self._model is None:
            log.info("embedding before warm_up(): loading the model now")
            self.warm_up()
        return self._model

    @property
    def dimension(self) -> int:
        return int(self.model.get_embedding_dimension())

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        vectors = self.model.encode(
            [self.passage_prefix + t for t in texts],
            batch_size=self.batch_size,
            normalize_embeddings=True,
            show_progress_bar=show_progress,
            convert_to_numpy=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        vector = self.model.encode(self.query_prefix + text, normalize_embeddings=True, convert_to_numpy=True)
        return np.asarray(vector, dtype=np.float32)


def embedder_from_settings(settings: Settings) -> Embedder:
    """The configured embedder, whatever ``RAG_EMBEDDING_BACKEND`` says (not loaded yet).

    Kept here for the call sites that import it from this module; the choice of backend
    is :func:`rag.embed.factory.embedder_from_settings`.
    """
    from rag.embed.factory import embedder_from_settings as configured

    return configured(settings)


@lru_cache(maxsize=4)
def cached_sentence_transformer(path: str, qp: str, pp: str, batch: int, device: str) -> SentenceTransformerEmbedder:
    """One model per process: loading takes seconds, queries take milliseconds."""
    return SentenceTransformerEmbedder(path, qp, pp, batch, device)
