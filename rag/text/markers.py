"""The ``[n]`` citation markers: the one place that knows their syntax.

The model writes markers loosely (``[1,2]``, ``【1】``, ``［1］``, full-width digits,
``[1][2]`` back to back); the checker rewrites every one to the normal form ``[n]``,
which is all the UI, the widget and the API ever see.
"""

from __future__ import annotations

import re
import unicodedata

# One marker group: [1] [1,2] [1, 2] [1、2] ［1］ 【1】 and full-width digits. Only
# 1-3 digit numbers, so a bracketed year such as "[2023]" is left alone.
MARKER_RE = re.compile(r"[\[［【]\s*([0-9０-９]{1,3}(?:\s*[,，、]\s*[0-9０-９]{1,3})*)\s*[\]］】]")
# Several groups written back to back ("[1][2]", "[1] [2]") are one group.
MARKER_RUN_RE = re.compile(rf"(?:{MARKER_RE.pattern})(?:[ \t]*(?:{MARKER_RE.pattern}))*")
# The normal form the checker writes: one number per bracket.
NORMAL_MARKER_RE = re.compile(r"\[(\d{1,3})\]")
NORMAL_RUN_RE = re.compile(r"(?:\[\d{1,3}\])+")


def marker(n: int) -> str:
    """The normal form of a citation of passage ``n``."""
    return f"[{n}]"


def parse_markers(text: str) -> list[int]:
    """Every marker number in ``text``, in order of appearance (duplicates kept)."""
    numbers: list[int] = []
    for m in MARKER_RE.finditer(text):
        for part in re.split(r"[,，、]", m.group(1)):
            numbers.append(int(unicodedata.normalize("NFKC", part).strip()))
    return numbers


def strip_markers(text: str) -> str:
    """The text without any citation marker."""
    return MARKER_RUN_RE.sub("", text)


def marker_runs(text: str) -> list[tuple[int, int]]:
    """(start, end) of every run of marker groups in ``text``."""
    return [(m.start(), m.end()) for m in MARKER_RUN_RE.finditer(text)]
