"""Hand-made dataset rows and predictions shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from tests.evaluation.eval_samples import passage

@pytest.fixture
def make_pred() -> Callable[..., dict[str, Any]]:
    """Build a prediction in the pipeline's shape; only what a test sets matters."""

    def build(
        answer: str | None = "",
        citations: dict[int, str] | None = None,
        retrieved: list[str] | None = None,
        refused: bool = False,
        timings: dict[str, Any] | None = None,
        tokens: int | None = 20,
    ) -> dict[str, Any]:
        pred: dict[str, Any] = {
            "question": "q",
            "refused": refused,
            "mode": "local",
            "citations": [
                {"n": n, "file": f"f{n}.txt", "title": "", "section": "", "text": t, "score": 1.0, "chunk_id": str(n)}
                for n, t in (citations or {}).items()
            ],
            "timings": timings or {"retrieve_ms": 10.0, "generate_ms": 1000.0, "total_ms": 1010.0, "ttft_ms": None},
            "tokens_generated": tokens,
            "fallback": None,
        }
        if answer is not None:
            pred["answer"] = answer
        if retrieved is not None:
            pred["retrieved"] = [passage(t, f"r{i}.txt") for i, t in enumerate(retrieved)]
        return pred

    return build
