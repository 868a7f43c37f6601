"""Feedback on answers (👍/👎 with an optional comment), from the UI, the widget or any API client.

One append-only JSONL file (``<RAG_DATA_DIR>/feedback.jsonl``) shared by every writer: the
UI's like buttons and ``POST /api/feedback``. Each line is one ``FeedbackEntry`` with the
question, the answer and the citations it rates and the index version that answered,
so a rating can be checked against the passages later even after re-ingests.

Appends are safe across threads and processes (a file lock around one ``write``), and
reading is tolerant: lines written before a field existed get its default, a damaged line
is skipped with a warning instead of hiding every other rating.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from filelock import FileLock

log = logging.getLogger(__name__)

FILE_NAME = "feedback.jsonl"
RATINGS = ("up", "down")
CSV_COLUMNS = ("id", "ts", "rating", "comment", "question", "answer", "citations", "index_version", "mode",
               "refused", "source")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@dataclass
class FeedbackEntry:
    """One rating of one answer."""

    rating: str  # "up" or "down"
    question: str
    answer: str
    citations: list[dict[str, Any]] = field(default_factory=list)  # as the API returned them
    index_version: str | None = None
    comment: str = ""
    mode: str | None = None
    refused: bool | None = None
    source: str = "api"  # ui, widget, api (what the client says it is)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    ts: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%S%z"))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FeedbackEntry:
        known = {f.name for f in fields(cls)}
        values = {k: v for k, v in data.items() if k in known}
        values.setdefault("question", "")
        values.setdefault("answer", "")
        values.setdefault("rating", "")
        values.setdefault("id", "")  # lines from before ids: no made-up id on every read
        return cls(**values)

    def csv_row(self) -> dict[str, str]:
        cites = "; ".join(
            f"[{c.get('n', '')}] {c.get('file', '')} {c.get('chunk_id', '')}".strip() for c in self.citations
        )
        row = {name: getattr(self, name) for name in CSV_COLUMNS if name != "citations"}
        row["citations"] = cites
        return {k: _cell(v) for k, v in row.items()}


def _cell(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


class FeedbackStore:
    """The JSONL file of ratings; cheap to construct (nothing is read until asked)."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._lock = threading.Lock()  # FileLock is per process; this keeps threads in line too

    @classmethod
    def in_data_dir(cls, data_dir: Path | str) -> FeedbackStore:
        return cls(Path(data_dir) / FILE_NAME)

    def add(self, entry: FeedbackEntry) -> FeedbackEntry:
        line = json.dumps(entry.to_dict(), ensure_ascii=False) + "\n"
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, FileLock(str(self.path) + ".lock"), self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
        return entry

    def entries(self, limit: int | None = None) -> list[FeedbackEntry]:
        """The ratings, oldest first (the last ``limit`` when given)."""
        if not self.path.exists():
            return []
        out: list[FeedbackEntry] = []
        with self.path.open(encoding="utf-8", errors="replace") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    data = json.loads(line)
                    out.append(FeedbackEntry.from_dict(data))
                except (ValueError, TypeError) as exc:
                    log.warning("feedback line %d unreadable (%s): skipped", number, exc)
        return out[-limit:] if limit else out


def to_csv(entries: Iterable[FeedbackEntry]) -> str:
    """The ratings as CSV (UTF-8 with a BOM, so spreadsheet programs read the Chinese right)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(CSV_COLUMNS))
    writer.writeheader()
    for entry in entries:
        writer.writerow(entry.csv_row())
    return "\ufeff" + buffer.getvalue()
