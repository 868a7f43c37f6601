"""How often the sentences sent to the LLM hold the answer, per context budget.

    .venv/bin/python bench/context_recall.py [--dataset eval/datasets/dev.jsonl]
                                             [--index DIR] [--budgets 200,250,270,300]

On a CPU the prompt sets the time to first token, so the LLM modes send only
``RAG_LLM_CONTEXT_CHARS`` characters of the best sentences (rag.answer.evidence).
For each answerable question this prints whether every ``must_include`` string is
in that context (the ceiling of the LLM's key-fact accuracy), the mean characters
sent, and the questions whose context misses the answer.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import unicodedata
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.evidence import context_for_llm, split_subquestions
from rag.service import RagService


def _normal(text: str) -> str:
    return re.sub(r"\s", "", unicodedata.normalize("NFKC", text)).lower()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, default=Path("eval/datasets/dev.jsonl"))
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: RAG_INDEX_DIR)")
    ap.add_argument("--budgets", default="200,250,270,300")
    args = ap.parse_args()

    service = RagService(index_dir=args.index)
    rows = [json.loads(line) for line in args.dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    rows = [r for r in rows if r.get("type") != "unanswerable" and r.get("must_include")]
    retrieved = [
        service._fresh().search_compound(r["question"], split_subquestions(r["question"]), k=5).results for r in rows
    ]
    print(f"{args.dataset} ({len(rows)} answerable questions)")
    for budget in (int(b) for b in args.budgets.split(",")):
        hits, chars, misses = 0, 0, []
        for row, passages in zip(rows, retrieved):
            excerpts = context_for_llm(row["question"], passages, service.idf, budget)
            text = _normal("".join(t for _, t in excerpts))
            chars += sum(len(t) for _, t in excerpts)
            if all(_normal(m) in text for m in row["must_include"]):
                hits += 1
            else:
                misses.append(row["id"])
        print(
            f"budget {budget:4d}: context recall {hits}/{len(rows)} = {hits / len(rows):.3f}, "
            f"mean {chars / len(rows):.0f} chars; misses: {' '.join(misses)}"
        )


if __name__ == "__main__":
    main()
