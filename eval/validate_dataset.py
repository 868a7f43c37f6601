"""Validate an evaluation dataset (JSONL) against the bundled corpus.

Each line of the dataset is one JSON object with the fields

    id, question, answer, must_include, evidence, type

where ``evidence`` is a list of ``{"file": <corpus file name>, "quote": <one sentence>}``.
The corpus text is hard-wrapped and full of stray spaces, so every comparison
is made after removing *all* whitespace from both sides.

Usage as a library::

    from validate_dataset import validate
    problems = validate("eval/datasets/dev.jsonl")

Usage from the command line (prints a summary, exits 1 on problems)::

    python eval/validate_dataset.py [eval/datasets/dev.jsonl] [--corpus data/corpus]
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from pathlib import Path
from typing import Annotated, Any

import typer

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO_ROOT / "eval" / "datasets" / "dev.jsonl"
DEFAULT_CORPUS = REPO_ROOT / "data" / "corpus"

VALID_TYPES = ("factoid", "explanation", "numeric", "multi-passage", "unanswerable")
REQUIRED_FIELDS = ("id", "question", "answer", "must_include", "evidence", "type")
ID_RE = re.compile(r"^[a-z]+-\d{3,}$")
# A quote must be a whole sentence: it ends with sentence-final punctuation,
# optionally followed by a closing quotation mark or bracket.
SENTENCE_END_RE = re.compile(r"[。！？!?…；;][”’」』）)\"']*$|[”」』）)]$")

MIN_TOTAL = 80
MIN_UNANSWERABLE = 10
MAX_MUST_INCLUDE = 3
MAX_QUOTE_CHARS = 250  # "one sentence": anything longer is almost surely several
MIN_MULTI_PASSAGE_GAP = 200  # chars between two evidence quotes of one file

_WS_RE = re.compile(r"\s+")


def normalize(text: str) -> str:
    """Remove all (Unicode) whitespace; the basis of every text comparison.

    Deliberately not :func:`rag.text.normalize.compact`: a quote must be copied from
    the document as it is (only the corpus's hard wraps and stray spaces are
    forgiven), so a full-width or case variant is a dataset error here, even though
    the evidence-hit metric would accept it.
    """
    return _WS_RE.sub("", text)


def load_corpus(corpus_dir: str | Path = DEFAULT_CORPUS) -> dict[str, str]:
    """Map each corpus file name to its whitespace-free text."""
    corpus_dir = Path(corpus_dir)
    corpus = {
        p.name: normalize(p.read_text(encoding="utf-8"))
        for p in sorted(corpus_dir.glob("*.txt"))
    }
    logger.debug("loaded %d corpus files from %s", len(corpus), corpus_dir)
    return corpus


def load_records(path: str | Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Parse the JSONL file; return the records and any parse problems."""
    records: list[dict[str, Any]] = []
    problems: list[str] = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                problems.append(f"line {lineno}: invalid JSON ({exc})")
                continue
            if not isinstance(obj, dict):
                problems.append(f"line {lineno}: not a JSON object")
                continue
            obj["_line"] = lineno
            records.append(obj)
    return records, problems


def _check_record(rec: dict[str, Any], corpus: dict[str, str]) -> list[str]:
    where = f"{rec.get('id', '?')} (line {rec['_line']})"
    problems: list[str] = []

    missing = [f for f in REQUIRED_FIELDS if f not in rec]
    if missing:
        return [f"{where}: missing field(s) {missing}"]
    extra = sorted(set(rec) - set(REQUIRED_FIELDS) - {"_line"})
    if extra:
        problems.append(f"{where}: unexpected field(s) {extra}")

    rid, question, answer = rec["id"], rec["question"], rec["answer"]
    must, evidence, rtype = rec["must_include"], rec["evidence"], rec["type"]

    if not isinstance(rid, str) or not ID_RE.match(rid):
        problems.append(f"{where}: bad id {rid!r}")
    if not isinstance(question, str) or not question.strip():
        problems.append(f"{where}: question must be a non-empty string")
    if not isinstance(answer, str):
        problems.append(f"{where}: answer must be a string")
        answer = ""
    if rtype not in VALID_TYPES:
        problems.append(f"{where}: invalid type {rtype!r}")
    if not isinstance(must, list) or not all(isinstance(m, str) and m.strip() for m in must):
        problems.append(f"{where}: must_include must be a list of non-empty strings")
        must = []
    if not isinstance(evidence, list):
        problems.append(f"{where}: evidence must be a list")
        evidence = []

    if rtype == "unanswerable":
        if evidence:
            problems.append(f"{where}: unanswerable item has evidence")
        if must:
            problems.append(f"{where}: unanswerable item has must_include")
        if answer.strip():
            problems.append(f"{where}: unanswerable item has a non-empty answer")
        return problems

    if not answer.strip():
        problems.append(f"{where}: answer is empty")
    if not 1 <= len(must) <= MAX_MUST_INCLUDE:
        problems.append(f"{where}: must_include needs 1-{MAX_MUST_INCLUDE} strings, has {len(must)}")
    if not evidence:
        problems.append(f"{where}: no evidence")

    quotes: list[tuple[str, str]] = []  # (file, normalized quote)
    for k, ev in enumerate(evidence):
        ew = f"{where} evidence[{k}]"
        if not isinstance(ev, dict) or set(ev) != {"file", "quote"}:
            problems.append(f"{ew}: must be an object with exactly 'file' and 'quote'")
            continue
        fname, quote = ev["file"], ev["quote"]
        if not isinstance(fname, str) or fname not in corpus:
            problems.append(f"{ew}: unknown corpus file {fname!r}")
            continue
        if not isinstance(quote, str) or not normalize(quote):
            problems.append(f"{ew}: empty quote")
            continue
        nq = normalize(quote)
        if nq not in corpus[fname]:
            problems.append(f"{ew}: quote not found in {fname}: {quote[:40]}…")
        if not SENTENCE_END_RE.search(nq):
            problems.append(f"{ew}: quote does not end a sentence: …{quote[-15:]}")
        if len(nq) > MAX_QUOTE_CHARS:
            problems.append(f"{ew}: quote too long ({len(nq)} chars) for one sentence")
        quotes.append((fname, nq))

    if rtype == "multi-passage":
        if len(quotes) < 2:
            problems.append(f"{where}: multi-passage needs >= 2 evidence entries")
        elif not _passages_apart(quotes, corpus):
            problems.append(f"{where}: multi-passage evidence comes from a single place")

    haystack = [nq for _, nq in quotes] + [normalize(answer)]
    for m in must:
        if not any(normalize(m) in h for h in haystack):
            problems.append(f"{where}: must_include {m!r} not in any evidence quote or the answer")
    return problems


def _passages_apart(quotes: list[tuple[str, str]], corpus: dict[str, str]) -> bool:
    """True if at least two quotes come from different files or distant spots."""
    spots = [(f, corpus[f].find(q)) for f, q in quotes]
    for i in range(len(spots)):
        for j in range(i + 1, len(spots)):
            (fa, pa), (fb, pb) = spots[i], spots[j]
            if fa != fb or abs(pa - pb) >= MIN_MULTI_PASSAGE_GAP:
                return True
    return False


def validate(
    path: str | Path = DEFAULT_DATASET,
    corpus_dir: str | Path = DEFAULT_CORPUS,
    min_total: int = MIN_TOTAL,
    min_unanswerable: int = MIN_UNANSWERABLE,
) -> list[str]:
    """Return a list of human-readable problems (empty when the dataset is valid)."""
    corpus = load_corpus(corpus_dir)
    if not corpus:
        return [f"no corpus files found in {corpus_dir}"]
    records, problems = load_records(path)

    ids = Counter(r.get("id") for r in records)
    problems += [f"duplicate id {i!r} ({n} times)" for i, n in ids.items() if n > 1]
    questions = Counter(normalize(str(r.get("question", ""))) for r in records)
    problems += [f"duplicate question {q[:30]!r}" for q, n in questions.items() if n > 1 and q]

    for rec in records:
        problems += _check_record(rec, corpus)

    n_unans = sum(1 for r in records if r.get("type") == "unanswerable")
    if len(records) < min_total:
        problems.append(f"only {len(records)} items (need >= {min_total})")
    if n_unans < min_unanswerable:
        problems.append(f"only {n_unans} unanswerable items (need >= {min_unanswerable})")

    logger.info("validated %d items from %s: %d problem(s)", len(records), path, len(problems))
    return problems


def summarize(path: str | Path = DEFAULT_DATASET) -> dict[str, Counter]:
    """Counts by type and by corpus file (an item counts once per file it cites)."""
    records, _ = load_records(path)
    by_type: Counter = Counter(r.get("type") for r in records)
    by_file: Counter = Counter()
    for r in records:
        files = {ev.get("file") for ev in r.get("evidence") or [] if isinstance(ev, dict)}
        for f in files or {"(none)"}:
            by_file[f] += 1
    return {"total": Counter({"items": len(records)}), "type": by_type, "file": by_file}


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    path: Annotated[Path, typer.Argument(help="The dataset (JSONL).")] = DEFAULT_DATASET,
    corpus: Annotated[Path, typer.Option("--corpus", help="The corpus folder.")] = DEFAULT_CORPUS,
    min_total: Annotated[int, typer.Option("--min-total", help="Fewest items (heldout.jsonl: 40).")] = MIN_TOTAL,
) -> None:
    """Print a summary of the dataset and its problems; exit 1 when there are any."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    problems = validate(path, corpus, min_total=min_total)
    summary = summarize(path)
    typer.echo(f"{path}: {summary['total']['items']} items")
    typer.echo("by type:")
    for t in VALID_TYPES:
        typer.echo(f"  {t:<14} {summary['type'].get(t, 0):>4}")
    typer.echo("by file (items citing it):")
    for f, n in sorted(summary["file"].items()):
        typer.echo(f"  {f:<28} {n:>4}")
    if problems:
        typer.echo(f"{len(problems)} problem(s):")
        for p in problems:
            typer.echo(f"  - {p}")
        raise typer.Exit(1)
    typer.echo("OK: no problems")


if __name__ == "__main__":
    app()
