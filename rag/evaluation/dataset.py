"""An evaluation dataset: reading the JSONL file and reading its rows.

Rows stay mappings rather than dataclasses on purpose: imported benchmarks (RGB,
CRUD-RAG) carry optional keys of their own (``answer_alternatives``, ``source``,
``history``), and every metric must tolerate a row that lacks a key. The accessors
below are the one place that knows how a row spells its evidence and its type; the
schema is documented in eval/README.md.

Several files read as one set (``dev.jsonl heldout.jsonl fresh.jsonl``) keep ids
unique across all of them; a ``split`` filter keeps the rows of one side of the
tune/test split (rows without a ``split`` belong to neither).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

UNANSWERABLE = "unanswerable"
SPLITS: tuple[str, ...] = ("tune", "test")
NO_NEAR_MISS = "(unlabelled)"

Item = Mapping[str, Any]


def load_dataset(path: str | Path) -> list[dict[str, Any]]:
    """Read a JSONL dataset; every row needs ``id`` and ``question``, ids unique."""
    items: list[dict[str, Any]] = []
    seen: set[str] = set()
    with Path(path).open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {e}") from e
            if not isinstance(row, dict) or "id" not in row or "question" not in row:
                raise ValueError(f"{path}:{lineno}: a row needs 'id' and 'question'")
            row["id"] = str(row["id"])
            if row["id"] in seen:
                raise ValueError(f"{path}:{lineno}: duplicate id {row['id']!r}")
            seen.add(row["id"])
            items.append(row)
    return items


def load_datasets(paths: str | Path | Sequence[str | Path], split: str | None = None) -> list[dict[str, Any]]:
    """Read one or several JSONL datasets in order; ids unique across all; keep one split.

    ``split`` (``tune``/``test``) keeps only the rows of that split; rows without a
    ``split`` are dropped then, since nobody knows which side they are on.
    """
    if isinstance(paths, str | Path):
        paths = [paths]
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {SPLITS}, not {split!r}")
    items: list[dict[str, Any]] = []
    origin: dict[str, Path] = {}
    for path in paths:
        for row in load_dataset(path):
            if row["id"] in origin:
                raise ValueError(f"{path}: id {row['id']!r} is also in {origin[row['id']]}")
            origin[row["id"]] = Path(path)
            items.append(row)
    return list(in_split(items, split)) if split else items


def in_split(items: Iterable[dict[str, Any]], split: str) -> Iterable[dict[str, Any]]:
    return (row for row in items if row.get("split") == split)


def item_split(item: Item) -> str | None:
    """The row's side of the tune/test split, None when it has none."""
    split = item.get("split")
    return str(split) if split else None


def near_miss(item: Item) -> str | None:
    """The near-miss kind of an unanswerable row (``(unlabelled)`` when absent); None when answerable."""
    if is_answerable(item):
        return None
    return str(item.get("near_miss") or NO_NEAR_MISS)


def is_answerable(item: Item) -> bool:
    return item.get("type") != UNANSWERABLE


def item_type(item: Item) -> str:
    """The row's question type, ``untyped`` when it has none (the per-type tables' key)."""
    return str(item.get("type") or "untyped")


def evidence_quotes(item: Item) -> list[str]:
    quotes = []
    for ev in item.get("evidence") or []:
        q = ev.get("quote") if isinstance(ev, Mapping) else ev
        if isinstance(q, str) and q.strip():
            quotes.append(q)
    return quotes


def evidence_groups(item: Item) -> list[list[str]]:
    """Evidence quotes grouped by their optional ``group`` key.

    All-evidence recall needs one hit per group: a multi-passage question whose
    second fact is backed by three equivalent articles lists them in one group.
    Quotes without a group are each a group of their own.
    """
    groups: dict[Any, list[str]] = {}
    for n, ev in enumerate(item.get("evidence") or []):
        if not isinstance(ev, Mapping):
            continue
        q = ev.get("quote")
        if isinstance(q, str) and q.strip():
            key = ("g", ev["group"]) if ev.get("group") is not None else ("n", n)
            groups.setdefault(key, []).append(q)
    return list(groups.values())


def must_include(item: Item) -> list[str]:
    """The key-fact strings every correct answer contains."""
    return [m for m in item.get("must_include") or [] if isinstance(m, str) and m.strip()]


def answer_alternatives(item: Item) -> list[list[str]]:
    """Required answers, each a list of accepted alternatives (RGB style)."""
    alts = item.get("answer_alternatives")
    if not alts:
        return []
    return [[a for a in group if isinstance(a, str) and a.strip()] for group in alts if group]
