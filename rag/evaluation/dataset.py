"""An evaluation dataset: reading the JSONL file and reading its rows.

Rows stay mappings rather than dataclasses on purpose: imported benchmarks (RGB,
CRUD-RAG) carry optional keys of their own (``answer_alternatives``, ``source``,
``history``), and every metric must tolerate a row that lacks a key. The accessors
below are the one place that knows how a row spells its evidence and its type; the
schema is documented in eval/README.md.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

UNANSWERABLE = "unanswerable"

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
