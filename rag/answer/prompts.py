"""Prompt templates, kept as text files beside this module."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

_DIR = Path(__file__).parent / "prompts"


@lru_cache(maxsize=None)
def load_prompt(name: str) -> str:
    return (_DIR / f"{name}.txt").read_text(encoding="utf-8").strip()


@lru_cache(maxsize=None)
def load_examples(name: str) -> tuple[dict[str, Any], ...]:
    """Worked examples (passages, question, answer) shown to the model before the real question."""
    return tuple(json.loads((_DIR / f"{name}.json").read_text(encoding="utf-8")))
