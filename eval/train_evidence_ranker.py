"""Regenerate rag/answer/data/evidence_ranker.json: the evidence ranker and the answerability
gate, learned on the ``tune`` split of the eval sets (see rag.evaluation.ranker_training).

    .venv/bin/python eval/train_evidence_ranker.py --index index \
        eval/datasets/dev.jsonl eval/datasets/heldout.jsonl eval/datasets/fresh.jsonl

Prints the figures on tune and on test (never fitted on) side by side. Re-run it after
changing a feature in rag/answer/ranker.py or rag/answer/gate.py: the model file names
its features and loading refuses a file that does not match the code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.ranker import MODEL_FILE  # noqa: E402
from rag.config import load_settings  # noqa: E402
from rag.evaluation.dataset import load_datasets  # noqa: E402
from rag.evaluation.ranker_training import collect, dataset_digest, train, write_model  # noqa: E402
from rag.service import RagService  # noqa: E402

DEFAULT_SETS = ["eval/datasets/dev.jsonl", "eval/datasets/heldout.jsonl", "eval/datasets/fresh.jsonl"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=DEFAULT_SETS)
    parser.add_argument("--index", type=Path, default=None, help="index folder (default RAG_INDEX_DIR)")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings()
    service = RagService(settings, args.index).warm_up()
    paths = [Path(p) for p in args.datasets]
    items = load_datasets(paths)
    snap = service.snapshot()
    data = collect(service, items, settings.top_k)
    model, report = train(data, snap.idf, len(snap.index.chunks), dataset_digest(paths))
    write_model(model, report, args.out)
    print(f"wrote {args.out}")
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"  {key:<{width}}  {value:.3f}" if isinstance(value, float) else f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
