"""Regenerate rag/answer/data/evidence_ranker.json: the evidence ranker and the answerability
gate, learned on the ``tune`` split of the eval sets (see rag.evaluation.ranker_training).

    .venv/bin/python eval/train_evidence_ranker.py --index index \
        eval/datasets/dev.jsonl eval/datasets/heldout.jsonl eval/datasets/fresh.jsonl \
        --source /tmp/news_idx:eval/datasets/news.jsonl

The bundled sets are asked of ``--index`` (an index of the bundled corpus). Every
``--source IDX:DATASET[,DATASET...]`` adds another knowledge base with its own questions
(the real-news near misses of ``eval/datasets/news.jsonl``, whose corpus is not in the
repository) to the gate (the sentence ranker learns from the bundled sets only); its tune
gate rows are written to ``eval/training_rows/<name>.json``. A source not
given here is trained on from that committed file instead (so CI, without the news
corpus, refits the same model); ``--no-frozen`` leaves those files out.

Prints the figures on tune and on test (never fitted on) side by side. Re-run it, with
every source, after changing a feature in rag/answer/ranker.py or rag/answer/gate.py: the
model file names its features and loading refuses a file that does not match the code.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from rag.answer.ranker import MODEL_FILE, RankerModel  # noqa: E402
from rag.config import PROJECT_ROOT, load_settings  # noqa: E402
from rag.evaluation.dataset import load_datasets  # noqa: E402
from rag.evaluation.ranker_training import (  # noqa: E402
    ROWS_DIR,
    Source,
    collect,
    dataset_digest,
    fit_ranker,
    read_rows,
    score_source,
    source_rows,
    train_sources,
    write_model,
    write_rows,
)
from rag.service import RagService  # noqa: E402

DEFAULT_SETS = ["eval/datasets/dev.jsonl", "eval/datasets/heldout.jsonl", "eval/datasets/fresh.jsonl"]
log = logging.getLogger("train_evidence_ranker")


def _relative(path: Path) -> str:
    path = Path(path).resolve()
    try:
        return str(path.relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


def load_source(name: str, index: Path | None, datasets: list[Path], settings) -> Source:
    service = RagService(settings, index).warm_up()
    snap = service.snapshot()
    data = collect(service, load_datasets(datasets), settings.top_k)
    digest = {_relative(Path(k)): v for k, v in dataset_digest(datasets).items()}
    log.info("%s: %d questions over %d chunks", name, len(data), len(snap.index.chunks))
    return Source(name, data, snap.idf, len(snap.index.chunks), digest)


def parse_source(text: str) -> tuple[Path, list[Path]]:
    index, _, sets = text.partition(":")
    if not index or not sets:
        raise argparse.ArgumentTypeError(f"--source wants IDX:DATASET[,DATASET...], not {text!r}")
    return Path(index), [Path(s) for s in sets.split(",") if s]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("datasets", nargs="*", default=DEFAULT_SETS)
    parser.add_argument("--index", type=Path, default=None, help="index of the bundled corpus (default RAG_INDEX_DIR)")
    parser.add_argument("--source", type=parse_source, action="append", default=[], metavar="IDX:DATASET[,DATASET...]")
    parser.add_argument("--rows-dir", type=Path, default=ROWS_DIR, help="committed tune rows of the extra sources")
    parser.add_argument("--no-frozen", action="store_true", help="train without the committed rows of sources not given")
    parser.add_argument("--out", type=Path, default=MODEL_FILE)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings()
    bundled = load_source("bundled", args.index, [Path(p) for p in args.datasets], settings)
    extra = [load_source(sets[0].stem, index, sets, settings) for index, sets in args.source]
    # An extra source teaches the gate through its tune rows, computed with the sentence
    # ranker the bundled sets teach, written to the file CI trains from, and read back: the
    # model written here is the one a run without that source's corpus refits.
    ranker = RankerModel(sentence=fit_ranker([bundled]))
    frozen = []
    for src in extra:
        path = args.rows_dir / f"{src.name}.json"
        write_rows(source_rows(src, ranker), path)
        print(f"wrote {path}")
        frozen.append(read_rows(path))
    if not args.no_frozen:
        for path in sorted(args.rows_dir.glob("*.json")):
            if path.stem not in {src.name for src in extra}:
                log.info("%s: tune rows from %s", path.stem, path)
                frozen.append(read_rows(path))
    model, report = train_sources([bundled], frozen, sentence=ranker.sentence)
    for src in extra:
        for split in ("tune", "test"):
            report.update(score_source(model, src, split))
    write_model(model, report, args.out)
    print(f"wrote {args.out}")
    width = max(len(k) for k in report)
    for key, value in report.items():
        print(f"  {key:<{width}}  {value:.3f}" if isinstance(value, float) else f"  {key:<{width}}  {value}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
