"""A model-free embedder for unit tests: hashed character n-grams, deterministic, any dimension.

Each distinct character 1-, 2- and 3-gram of the text (in :func:`rag.text.normalize.content_chars`
form) adds ±1 to a bucket chosen by a stable hash (the "hashing trick"), so texts sharing
characters and words get close vectors, as they would with a real model, and results
are the same in every process. The query or passage prefix adds one feature of its own:
a query and a passage of the same text are embedded differently, as e5 does, yet stay
close. It is no model of meaning: use the real embedder in integration tests.
"""

from __future__ import annotations

import hashlib

import numpy as np

from rag.text.normalize import char_ngrams, content_chars

NGRAM_SIZES = (1, 2, 3)


class HashEmbedder:
    """Implements :class:`rag.embed.base.Embedder` without a model."""

    def __init__(self, dimension: int = 384, query_prefix: str = "query: ", passage_prefix: str = "passage: "):
        if dimension < 1:
            raise ValueError("dimension must be positive")
        self.dimension = dimension
        self.name = f"hash-ngrams-{dimension}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix

    def warm_up(self) -> None:
        """Nothing to load."""

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return np.stack([self._embed(self.passage_prefix, t) for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed(self.query_prefix, text)

    def _embed(self, prefix: str, text: str) -> np.ndarray:
        vector = np.zeros(self.dimension, dtype=np.float64)
        # The role feature also keeps the vector of an empty text non-zero.
        self._add(vector, "\x00role:" + prefix)
        content = content_chars(text)
        for n in NGRAM_SIZES:
            for gram in char_ngrams(content, n):
                self._add(vector, gram)
        norm = np.linalg.norm(vector)
        if norm == 0:  # every feature cancelled out (only likely with a tiny dimension)
            vector[0], norm = 1.0, 1.0
        return (vector / norm).astype(np.float32)

    def _add(self, vector: np.ndarray, feature: str) -> None:
        digest = hashlib.blake2b(feature.encode("utf-8"), digest_size=8).digest()
        value = int.from_bytes(digest, "little")
        vector[(value >> 1) % self.dimension] += 1.0 if value & 1 else -1.0
