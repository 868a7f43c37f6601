"""Word lists as data files: entries separated by line breaks or spaces (``#`` starts a
comment); a phrase with a space inside is not possible, and none is needed for Chinese.

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
        entries.extend(line.split("#", 1)[0].split())
    return tuple(entries)


def load_set(name: str) -> frozenset[str]:
    return frozenset(load(name))


@lru_cache(maxsize=None)
def load_families(name: str) -> dict[str, dict[str, tuple[str, ...]]]:
    """``family.member: word word`` lines of ``<name>.txt`` as {family: {member: words}}."""
    families: dict[str, dict[str, tuple[str, ...]]] = {}
    text = (resources.files(__name__) / f"{name}.txt").read_text(encoding="utf-8")
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        key, _, words = line.partition(":")
        family, _, member = key.strip().partition(".")
        families.setdefault(family, {})[member] = tuple(words.split())
    return families
