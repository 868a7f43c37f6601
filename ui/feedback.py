"""Thumbs up/down from the chat, kept as an append-only JSONL file for later review."""

from __future__ import annotations

import json
import threading
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from ui.turns import Turn


class FeedbackLog:
    """Append-only JSONL of ratings with the question, answer and citations they rate.

    One line per rating, written under a lock: Gradio runs handlers in threads, and
    interleaved writes would corrupt lines.
    """

    def __init__(self, path: Path):
        self.path = path
        self._lock = threading.Lock()

    def record(self, turn: Turn, liked: bool | str) -> dict[str, Any]:
        entry = {
            "ts": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "rating": "up" if liked is True else "down" if liked is False else str(liked),
            "question": turn.question,
            "answer": turn.answer,
            "refused": turn.refused,
            "mode": turn.mode,
            # Each citation in the JSON shape the API returns it in.
            "citations": [asdict(c) for c in turn.citations],
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._lock, self.path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(entry, ensure_ascii=False) + "\n")
        return entry
