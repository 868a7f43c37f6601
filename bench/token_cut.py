"""BM25 token cutting in one process against worker processes, side by side on real chunks.

    .venv/bin/python bench/token_cut.py --index /tmp/rag-scale/index-all [--n 40000] [--rounds 2]

Reads the texts and the lexicon of the index's current version (any index: the bundled
corpus gives ~800 chunks, the all-news scale index 112,519) and cuts the first ``--n``
texts with :func:`rag.ingest.token_cut.block_cutter` in one process and in one worker per
core, in interleaved rounds, so that a busy neighbour slows both alike. Prints chunks/s of
each round, the median ratio, and whether both cut the same tokens. Nothing is written.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from rag.cpus import usable_cpus  # noqa: E402
from rag.index.store import load_index  # noqa: E402
from rag.ingest.token_cut import block_cutter  # noqa: E402

BLOCK = 2000  # rows per block, as ChunkTable.fill_tokens cuts them


def cut_all(texts: list[str], cutter) -> tuple[float, list[str]]:  # noqa: ANN001
    blocks = [texts[start : start + BLOCK] for start in range(0, len(texts), BLOCK)]
    began = time.perf_counter()
    out = [encoded for block in cutter(iter(blocks)) for encoded in block]
    return time.perf_counter() - began, out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index", type=Path, required=True, help="an index folder (its current version is read)")
    parser.add_argument("--n", type=int, default=None, help="cut the first N chunks (default: all)")
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    index = load_index(args.index)
    texts = [chunk.indexed_text for chunk in index.chunks[: args.n]]
    lexicon = index.lexicon
    workers = usable_cpus()
    print(f"{len(texts)} chunks of {args.index}, lexicon of {len(lexicon.words)} words; {workers} cores; "
          f"load average {os.getloadavg()[0]:.2f}")
    if workers < 2:
        print("one core: nothing to compare")
        return 0
    one = block_cutter(lexicon, len(texts), workers=1)
    many = block_cutter(lexicon, len(texts), workers=workers, parallel_from=0)
    ratios, same = [], True
    for round_ in range(args.rounds):
        t_one, cut_one = cut_all(texts, one)
        t_many, cut_many = cut_all(texts, many)
        same = same and cut_one == cut_many
        ratios.append(t_one / t_many)
        print(f"round {round_ + 1}: one process {len(texts) / t_one:,.0f} chunks/s, "
              f"{workers} workers {len(texts) / t_many:,.0f} chunks/s ({t_one / t_many:.2f}x)")
    print(f"median {statistics.median(ratios):.2f}x; same tokens: {same}; load average {os.getloadavg()[0]:.2f}")
    return 0 if same else 1


if __name__ == "__main__":
    raise SystemExit(main())
