"""Reading aids for the writer of ``eval/datasets/news.jsonl`` (prints; writes nothing).

``show CLUSTER`` prints a cluster's held-out articles (to write near misses from) or
its KB articles (``--side kb``, to write answerable questions from). ``absent``
checks every unanswerable row the way a reviewer must before accepting it: its
``absent`` strings must occur in no KB article (counted), and the closest KB
articles by BM25 (jieba tokens, the product's tokenizer) are printed with their
sentences that best match the question, to read whether any of them answers it
after all (a paraphrase the string check cannot see).

    .venv/bin/python eval/news/review.py show gdp [--side held|kb]
    .venv/bin/python eval/news/review.py absent [--top 3] [--ids news-001,news-002]
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import bm25s
import typer

from rag.evaluation.news import DEFAULT_CRUD_FILE, DEFAULT_MANIFEST, load_manifest, read_crud
from rag.index.tokenize import tokenize
from rag.text.normalize import compact
from rag.text.sentences import split_sentences

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO_ROOT / "eval" / "datasets" / "news.jsonl"

app = typer.Typer(add_completion=False, no_args_is_help=True, help=__doc__.splitlines()[0])


@app.command()
def show(
    cluster: str,
    side: Annotated[str, typer.Option("--side", help="held or kb")] = "held",
    crud: Path = DEFAULT_CRUD_FILE,
    manifest: Path = DEFAULT_MANIFEST,
) -> None:
    """Print a cluster's held-out (or KB) articles in full."""
    kb = load_manifest(manifest)
    ids = kb.clusters[cluster].held_out if side == "held" else kb.clusters[cluster].kb
    articles = read_crud(crud, ids)
    for aid in ids:
        typer.echo(f"## {aid} {articles[aid].date}\n{articles[aid].text}\n")


@app.command()
def absent(
    top: Annotated[int, typer.Option("--top")] = 3,
    ids: Annotated[Optional[str], typer.Option("--ids", help="Comma-separated row ids only.")] = None,
    dataset: Path = DEFAULT_DATASET,
    crud: Path = DEFAULT_CRUD_FILE,
    manifest: Path = DEFAULT_MANIFEST,
) -> None:
    """For every unanswerable row: absent-string hits in the KB and the closest KB sentences."""
    kb = load_manifest(manifest)
    kb_ids = kb.kb_ids
    articles = read_crud(crud, kb_ids)
    texts = [articles[a].text for a in kb_ids]
    folded = [compact(t) for t in texts]
    retriever = bm25s.BM25()
    retriever.index([tokenize(t) for t in texts], show_progress=False)
    wanted = set(ids.split(",")) if ids else None
    rows = [json.loads(line) for line in dataset.read_text(encoding="utf-8").splitlines() if line.strip()]
    for row in rows:
        if row.get("type") != "unanswerable" or (wanted and row["id"] not in wanted):
            continue
        hits = {f: sum(compact(f) in t for t in folded) for f in row.get("absent", [])}
        q_tokens = set(tokenize(row["question"]))
        docs, scores = retriever.retrieve([tokenize(row["question"])], k=top, show_progress=False)
        typer.echo(f"== {row['id']} [{row['cluster']}/{row.get('near_miss')}] {row['question']}  absent hits {hits}")
        for doc, score in zip(docs[0], scores[0], strict=True):
            sents = split_sentences(texts[int(doc)])
            best = sorted(sents, key=lambda s: -len(q_tokens & set(tokenize(s))))[:2]
            typer.echo(f"  {kb_ids[int(doc)]} {score:.1f}: " + " | ".join(s[:110] for s in best))


if __name__ == "__main__":
    app()
