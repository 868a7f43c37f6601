"""The embedder interface: any backend that turns text into normalised vectors."""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Embedder(Protocol):
    """Turns queries and passages into L2-normalised float32 vectors (inner product = cosine).

    Constructing one is cheap; :meth:`warm_up` loads whatever it needs (idempotent).
    Contract (tests/embed/test_contract.py): shapes and dtype below, unit norm,
    deterministic, a query and a passage of the same text embedded differently
    (e5-style prefixes) yet close, and similar texts closer than unrelated ones.
    """

    name: str
    dimension: int

    def warm_up(self) -> None:
        """Load the model now rather than on the first embedding."""
        ...

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        """Vectors for passages, shape (len(texts), dimension)."""
        ...

    def embed_query(self, text: str) -> np.ndarray:
        """Vector for one query, shape (dimension,)."""
        ...
