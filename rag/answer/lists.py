"""Lists in news prose: a sentence that announces items ("主要有两点。") or starts them ("一、…").

An answer that picks such a sentence needs the items too; both the extractive answer and
the LLM's context bring them (:func:`list_items`).
"""

from __future__ import annotations

import re

# A sentence that announces a list ("主要发挥两大功能。", "有三个标志：") is answered
# by the sentence after it.
_LEAD_IN = re.compile(r"[：:]$|(两|三|四|五|六|几|以下|如下)(?:大|个|种|项|方面|点|类|条)[^，,。]{0,8}[。：:]?$")
# Sentences a lead-in brings: "两大…" two, "三/四/五/六/几…" at most three, "以下…：" or a bare "：" one.
_LIST_COUNTS = {"两": 2, "以下": 1, "如下": 1, None: 1}
MAX_LIST_ITEMS = 3
# An enumerated item ("一、…", "第一，…", "首先…") is followed by its siblings.
_FIRST_ITEM = re.compile(r"(?:^|[：:；;，,。])\s*(?:一、|第一[，,、]|首先[，,是])")
_NEXT_ITEM = re.compile(r"^\s*(?:[二三四五六]、|第[二三四五六][，,、]|其次|再次|最后|此外)")


def list_length(sentence: str) -> int:
    """How many following sentences a lead-in sentence announces (0: not a lead-in)."""
    match = _LEAD_IN.search(sentence.rstrip("”’」』）)"))
    if not match:
        return 0
    return _LIST_COUNTS.get(match.group(1), MAX_LIST_ITEMS)


def list_items(sentence: str, index: int, sentences: list[str]) -> list[int]:
    """Positions of the list items that ``sentences[index]`` announces: the items after
    a lead-in ("主要有两点。"), or the siblings of a first item ("一、…" → "二、…")."""
    count = list_length(sentence)
    if count:
        return list(range(index + 1, min(index + 1 + count, len(sentences))))
    if _FIRST_ITEM.search(sentence):
        following = range(index + 1, min(index + 1 + 2 * MAX_LIST_ITEMS, len(sentences)))
        return [i for i in following if _NEXT_ITEM.search(sentences[i])][:MAX_LIST_ITEMS]
    return []
