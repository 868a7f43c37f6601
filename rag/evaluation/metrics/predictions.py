"""The metrics' view of a prediction, and the pairing of predictions with rows.

A prediction is what the pipeline returned for one question (``Answer.to_dict()``
plus ``retrieved``), read from the run cache. It may be ``None`` or carry an
``"error"`` key (the question failed): it then counts for no metric, only for
``n_errors``. A key a prediction lacks (a retrieval-only run has no ``answer``)
makes the accessors return None, so the metric built on it is skipped, not zero.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from rag.evaluation.dataset import Item

Pred = Mapping[str, Any] | None


def usable(pred: Pred) -> bool:
    """A prediction that exists and did not fail."""
    return isinstance(pred, Mapping) and not pred.get("error")


def retrieved_texts(pred: Pred) -> list[str] | None:
    if not usable(pred) or pred.get("retrieved") is None:  # type: ignore[union-attr]
        return None
    return [str(r.get("text", "")) for r in pred["retrieved"]]  # type: ignore[index]


def answer_text(pred: Pred) -> str | None:
    if not usable(pred):
        return None
    ans = pred.get("answer")  # type: ignore[union-attr]
    return ans if isinstance(ans, str) else None


def refused(pred: Pred) -> bool | None:
    """Whether the pipeline refused; None when the prediction does not say."""
    if not usable(pred) or "refused" not in pred:  # type: ignore[operator]
        return None
    return bool(pred["refused"])  # type: ignore[index]


def number(value: Any) -> float | None:
    """``value`` as a float when it is a real number (booleans are not), else None."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def pairs(items: Sequence[Item], preds: Sequence[Pred]) -> Iterable[tuple[Item, Pred]]:
    """Rows with their predictions; a length mismatch is a bug in the caller."""
    if len(items) != len(preds):
        raise ValueError(f"{len(items)} items but {len(preds)} predictions")
    return zip(items, preds, strict=True)


def mean_or_none(values: Sequence[float]) -> float | None:
    """The mean, or None for no values: a metric without inputs is absent, not 0."""
    return float(sum(values) / len(values)) if values else None
