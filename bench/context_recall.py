"""How often the sentences sent to the LLM hold the answer, per context budget.

    .venv/bin/python bench/context_recall.py [--dataset eval/datasets/dev.jsonl ...]
                                             [--split test] [--index DIR] [--budgets 270,450,700]

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
import sys
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.evidence import context_for_llm, select_evidence  # noqa: E402
from rag.config import get_settings  # noqa: E402
from rag.query import analyse  # noqa: E402
from rag.service import RagService  # noqa: E402
from rag.text.normalize import compact  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--dataset", type=Path, nargs="+", default=[Path("eval/datasets/dev.jsonl")])
    ap.add_argument("--split", choices=["tune", "test"], default=None, help="only this split's questions")
    ap.add_argument("--index", type=Path, default=None, help="index folder (default: RAG_INDEX_DIR)")
    ap.add_argument("--budgets", default="200,250,270,300")
    args = ap.parse_args()

    snap = RagService(get_settings(), args.index).warm_up().snapshot()
    rows = [
        json.loads(line) for dataset in args.dataset
        for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()
    ]
    rows = [
        r for r in rows
        if r.get("type") != "unanswerable" and r.get("must_include") and args.split in (None, r.get("split"))
    ]
    evidence = []
    for row in rows:
        query = analyse(row["question"], snap.idf)
        passages = snap.retriever.search_compound(query.text, query.part_texts, k=5).results
        evidence.append(select_evidence(query, passages, snap.idf))
    names = " ".join(str(d) for d in args.dataset)
    print(f"{names}{f' ({args.split})' if args.split else ''}: {len(rows)} answerable questions")
    for budget in (int(b) for b in args.budgets.split(",")):
        hits, chars, misses = 0, 0, []
        for row, found in zip(rows, evidence):
            excerpts = context_for_llm(found, budget)
            text = compact("".join(t for _, t in excerpts))
            chars += sum(len(t) for _, t in excerpts)
            if all(compact(m) in text for m in row["must_include"]):
                hits += 1
            else:
                misses.append(row["id"])
        print(
            f"budget {budget:4d}: context recall {hits}/{len(rows)} = {hits / len(rows):.3f}, "
            f"mean {chars / len(rows):.0f} chars; misses: {' '.join(misses)}"
        )


if __name__ == "__main__":
    main()
