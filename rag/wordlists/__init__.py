"""Word lists as data files, one word or phrase per line (``#`` starts a comment).

Each file's header says what the list is for and where it came from, so a list fitted
to some question set can be found and re-measured. Load with :func:`load`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=None)
def load(name: str) -> tuple[str, ...]:
    """The entries of ``<name>.txt`` in file order (blank lines and comments dropped)."""
    text = (resources.files(__name__) / f"{name}.txt").read_text(encoding="utf-8")
    entries = []
    for line in text.splitlines():
        entry = line.split("#", 1)[0].strip()
        if entry:
            entries.append(entry)
    return tuple(entries)


def load_set(name: str) -> frozenset[str]:
    return frozenset(load(name))
