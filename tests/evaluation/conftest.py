"""Hand-made dataset rows and predictions shared by the evaluation tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING, passage

from rag.evaluation.metrics import compute_metrics
from rag.evaluation.report import write_report


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


RUN_ITEMS = [
    {"id": "k1", "type": "factoid", "question": "黑石净流入多少？", "must_include": ["170亿美元"],
     "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
    {"id": "k2", "type": "factoid", "question": "会议在哪里举行？", "must_include": ["北京"]},
    {"id": "u1", "type": "unanswerable", "question": "火星？"},
]


def _write_run(tmp_path: Path, name: str, preds: list[dict[str, Any]], mode: str) -> Path:
    metrics = compute_metrics(RUN_ITEMS, preds)
    metrics["run"] = {"config": {"mode": mode}}
    write_report(tmp_path / name, RUN_ITEMS, preds, metrics)
    return tmp_path / name


@pytest.fixture
def runs(tmp_path: Path, make_pred: Any) -> tuple[Path, Path]:
    """Two run folders of three questions: A (local, slower) fails two that B (extractive) passes."""
    slow = {"retrieve_ms": 10, "generate_ms": 2000, "total_ms": 2010, "ttft_ms": 300}
    fast = {"retrieve_ms": 10, "generate_ms": 1000, "total_ms": 1010, "ttft_ms": 200}
    a = _write_run(tmp_path, "a", [
        make_pred("黑石净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_MEETING], timings=slow),
        make_pred("会议在上海举行。", timings=slow),
        make_pred("火星上有三座城市。", timings=slow),
    ], "local")
    b = _write_run(tmp_path, "b", [
        make_pred("黑石净流入170亿美元[1]。", {1: PASSAGE_BLACKSTONE}, [PASSAGE_BLACKSTONE], timings=fast),
        make_pred("会议在北京举行。", timings=fast),
        make_pred("资料中没有相关信息。", refused=True, timings=fast),
    ], "extractive")
    return a, b
