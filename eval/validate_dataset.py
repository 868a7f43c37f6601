"""Validate evaluation datasets (JSONL) against the bundled corpus and the tune/test split.

Each line of a dataset is one JSON object with the fields

    id, question, answer, must_include, evidence, type

where ``evidence`` is a list of ``{"file": <corpus file name>, "quote": <one sentence>}``,
plus the optional fields of the split (eval/README.md): ``article`` (an id of
``eval/datasets/split.json``), ``articles`` (a comparison's ids), ``split``
(``tune``/``test``, that of the article), ``history`` (earlier turns of a follow-up),
``near_miss`` (the kind of an unanswerable near miss) and ``table`` (the answer is a
table cell). Every quote must be in the *cleaned* text of its article (what the
product ingests), compared after removing all whitespace from both sides.

Rows with ``"corpus": "crud-news"`` (``eval/datasets/news.jsonl``) belong to the
CRUD-RAG news knowledge base of ``eval/news/build.py`` instead: ``article`` is a crud
id, ``cluster`` its topic cluster (whose side of the split ``split`` must be), and an
unanswerable row lists in ``absent`` the held-out facts it asks for. They are checked
by :mod:`rag.evaluation.news` against ``eval/news/kb.json`` always, and against the
corpus text (quotes, absent facts) when ``../shared/corpora`` is present; without it
that part is skipped with a warning.

Usage as a library::

    from validate_dataset import validate, validate_many
    problems = validate("eval/datasets/dev.jsonl")
    problems = validate_many(["eval/datasets/dev.jsonl", "eval/datasets/fresh.jsonl"], require_split=True)

Usage from the command line (prints a summary, exits 1 on problems)::

    python eval/validate_dataset.py [DATASET ...] [--corpus data/corpus] [--require-split]

One file of ~430 lines on purpose: it is the schema's executable definition, run
directly as a script, and its rules read best top to bottom in one place; the
corpus side (cleaned articles, the split) lives in :mod:`rag.evaluation.articles`.
"""

from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from rag.evaluation import news
from rag.evaluation.articles import (
    DEFAULT_SPLIT_FILE,
    SPLITS,
    CleanArticle,
    Corpus,
    load_article_corpus,
    strip_whitespace,
)

logger = logging.getLogger(__name__)

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_DATASET = REPO_ROOT / "eval" / "datasets" / "dev.jsonl"
DEFAULT_CORPUS = REPO_ROOT / "data" / "corpus"

VALID_TYPES = ("factoid", "explanation", "numeric", "multi-passage", "unanswerable")
NEAR_MISS_KINDS = ("sibling_entity", "other_period", "other_measure", "not_stated")
REQUIRED_FIELDS = ("id", "question", "answer", "must_include", "evidence", "type")
OPTIONAL_FIELDS = ("article", "articles", "split", "history", "near_miss", "table", "corpus", "cluster", "absent")
SPLIT_FIELDS = ("article", "split")
HISTORY_ROLES = ("user", "assistant")
ID_RE = re.compile(r"^[a-z]+-\d{3,}$")
# A quote must be a whole sentence: it ends with sentence-final punctuation,
# optionally followed by a closing quotation mark or bracket. A table row need not.
SENTENCE_END_RE = re.compile(r"[。！？!?…；;][”’」』）)\"']*$|[”」』）)]$")

MIN_TOTAL = 80
MIN_UNANSWERABLE = 10
MAX_MUST_INCLUDE = 3
MAX_QUOTE_CHARS = 250  # "one sentence": anything longer is almost surely several
MIN_MULTI_PASSAGE_GAP = 200  # chars between two evidence quotes of one file


def normalize(text: str) -> str:
    """Remove all (Unicode) whitespace; the basis of every text comparison.

    Deliberately not :func:`rag.text.normalize.compact`: a quote must be copied from
    the document as it is (only the corpus's hard wraps and stray spaces are
    forgiven), so a full-width or case variant is a dataset error here, even though
    the evidence-hit metric would accept it.
    """
    return strip_whitespace(text)


def load_corpus(corpus_dir: str | Path = DEFAULT_CORPUS, split_file: str | Path = DEFAULT_SPLIT_FILE) -> Corpus:
    """The cleaned articles of every corpus file, and those the split names by id."""
    return load_article_corpus(corpus_dir, split_file)


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


def _row_articles(rec: dict[str, Any]) -> list[str]:
    """The article ids a row names: ``article`` first, then the rest of ``articles``."""
    ids = [rec["article"]] if isinstance(rec.get("article"), str) else []
    extra = rec.get("articles")
    if isinstance(extra, list):
        ids += [a for a in extra if isinstance(a, str) and a not in ids]
    return ids


def _check_split_fields(rec: dict[str, Any], corpus: Corpus, where: str, require_split: bool) -> list[str]:
    problems: list[str] = []
    if require_split:
        missing = [f for f in SPLIT_FIELDS if f not in rec]
        if missing:
            problems.append(f"{where}: missing field(s) {missing} (--require-split)")
    article, split = rec.get("article"), rec.get("split")
    if "article" in rec and (not isinstance(article, str) or article not in corpus.articles):
        problems.append(f"{where}: article {article!r} is not in split.json")
    if "split" in rec and split not in SPLITS:
        problems.append(f"{where}: split must be one of {SPLITS}, not {split!r}")
    elif "split" in rec and isinstance(article, str) and article in corpus.articles:
        if corpus.split_of(article) != split:
            problems.append(f"{where}: split {split!r} but split.json puts {article} in {corpus.split_of(article)!r}")
    if "articles" in rec:
        ids = rec["articles"]
        if not isinstance(ids, list) or len(ids) < 2 or not all(isinstance(a, str) for a in ids):
            problems.append(f"{where}: articles must be a list of at least two article ids")
        else:
            unknown = [a for a in ids if a not in corpus.articles]
            if unknown:
                problems.append(f"{where}: articles {unknown} are not in split.json")
            if isinstance(article, str) and article not in ids:
                problems.append(f"{where}: articles does not include article {article!r}")
            splits = {corpus.split_of(a) for a in ids if a in corpus.articles}
            if len(splits) > 1:
                problems.append(f"{where}: articles {ids} are in different splits")
            elif splits and "split" in rec and split not in splits:
                problems.append(f"{where}: split {split!r} but its articles are {splits.pop()!r}")
    return problems


def _check_optional_fields(rec: dict[str, Any], where: str) -> list[str]:
    problems: list[str] = []
    if "history" in rec:
        history = rec["history"]
        turns_ok = isinstance(history, list) and bool(history) and all(
            isinstance(t, dict)
            and set(t) == {"role", "content"}
            and t["role"] in HISTORY_ROLES
            and isinstance(t["content"], str)
            and t["content"].strip()
            for t in history
        )
        if not turns_ok:
            problems.append(f"{where}: history must be a non-empty list of {{role: user|assistant, content}} turns")
    if "near_miss" in rec:
        if rec["near_miss"] not in NEAR_MISS_KINDS:
            problems.append(f"{where}: near_miss must be one of {NEAR_MISS_KINDS}, not {rec['near_miss']!r}")
        if rec.get("type") != "unanswerable":
            problems.append(f"{where}: near_miss on an answerable item")
    if "table" in rec and not isinstance(rec["table"], bool):
        problems.append(f"{where}: table must be true or false")
    return problems


def _quote_home(rec: dict[str, Any], fname: str, quote: str, corpus: Corpus) -> CleanArticle | None:
    """The cleaned article holding ``quote``: among those the row names, else any of the file."""
    named = [corpus.articles[a] for a in _row_articles(rec) if a in corpus.articles]
    candidates = [a for a in named if a.ref.file == fname] if named else corpus.by_file.get(fname, [])
    return next((a for a in candidates if a.holds(quote)), None)


def _check_record(rec: dict[str, Any], corpus: Corpus, require_split: bool = False) -> list[str]:
    where = f"{rec.get('id', '?')} (line {rec['_line']})"
    problems: list[str] = []

    missing = [f for f in REQUIRED_FIELDS if f not in rec]
    if missing:
        return [f"{where}: missing field(s) {missing}"]
    extra = sorted(set(rec) - set(REQUIRED_FIELDS) - set(OPTIONAL_FIELDS) - {"_line"})
    if extra:
        problems.append(f"{where}: unexpected field(s) {extra}")
    foreign = rec.get("corpus") is not None  # another corpus than data/corpus: checked in _check_news
    if foreign and not news.is_news_row(rec):
        problems.append(f"{where}: unknown corpus {rec.get('corpus')!r} (known: {news.CORPUS_NAME!r})")
    if not foreign:
        problems += _check_split_fields(rec, corpus, where, require_split)
    elif require_split and not all(f in rec for f in SPLIT_FIELDS):
        problems.append(f"{where}: missing field(s) {list(SPLIT_FIELDS)} (--require-split)")
    problems += _check_optional_fields(rec, where)

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

    quotes: list[tuple[str, str]] = []  # (article key, normalized quote)
    for k, ev in enumerate(evidence):
        ew = f"{where} evidence[{k}]"
        if not isinstance(ev, dict) or set(ev) != {"file", "quote"}:
            problems.append(f"{ew}: must be an object with exactly 'file' and 'quote'")
            continue
        fname, quote = ev["file"], ev["quote"]
        if foreign:  # file and quote are checked against the news KB by _check_news
            if isinstance(quote, str) and normalize(quote):
                nq = normalize(quote)
                if not SENTENCE_END_RE.search(nq):
                    problems.append(f"{ew}: quote does not end a sentence: …{quote[-15:]}")
                quotes.append((f"{fname}#{rec.get('article')}", nq))
            continue
        if not isinstance(fname, str) or fname not in corpus.by_file:
            problems.append(f"{ew}: unknown corpus file {fname!r}")
            continue
        if not isinstance(quote, str) or not normalize(quote):
            problems.append(f"{ew}: empty quote")
            continue
        nq = normalize(quote)
        home = _quote_home(rec, fname, quote, corpus)
        if home is None:
            named = ", ".join(_row_articles(rec)) or fname
            problems.append(f"{ew}: quote not found in the cleaned text of {named}: {quote[:40]}…")
        if not rec.get("table") and not SENTENCE_END_RE.search(nq):
            problems.append(f"{ew}: quote does not end a sentence: …{quote[-15:]}")
        if len(nq) > MAX_QUOTE_CHARS:
            problems.append(f"{ew}: quote too long ({len(nq)} chars) for one sentence")
        quotes.append((f"{fname}#{home.ref.index}" if home else fname, nq))

    if rtype == "multi-passage" and not foreign:
        if len(quotes) < 2:
            problems.append(f"{where}: multi-passage needs >= 2 evidence entries")
        elif not _passages_apart(quotes, corpus):
            problems.append(f"{where}: multi-passage evidence comes from a single place")

    haystack = [nq for _, nq in quotes] + [normalize(answer)]
    for m in must:
        if not any(normalize(m) in h for h in haystack):
            problems.append(f"{where}: must_include {m!r} not in any evidence quote or the answer")
    return problems


def _check_news(records: list[dict[str, Any]], crud_file: str | Path) -> list[str]:
    """The crud-news rows against the KB manifest, and against the corpus text when it is present."""
    if not records:
        return []
    manifest = news.load_manifest()
    problems = news.check_rows_against_manifest(records, manifest)
    if not Path(crud_file).is_file():
        logger.warning("新闻语料不存在，跳过引文核对 (crud corpus not found, quote/absence checks skipped): %s", crud_file)
        return problems
    wanted = set(manifest.kb_ids) | {str(r.get("article")) for r in records}
    return problems + news.check_rows_against_corpus(records, manifest, news.read_crud(crud_file, wanted))


def _passages_apart(quotes: list[tuple[str, str]], corpus: Corpus) -> bool:
    """True if at least two quotes come from different articles or distant spots of one."""
    texts = {f"{a.ref.file}#{a.ref.index}": a.searchable for arts in corpus.by_file.values() for a in arts}
    spots = [(key, texts.get(key, "").find(q)) for key, q in quotes]
    for i in range(len(spots)):
        for j in range(i + 1, len(spots)):
            (ka, pa), (kb, pb) = spots[i], spots[j]
            if ka != kb or abs(pa - pb) >= MIN_MULTI_PASSAGE_GAP:
                return True
    return False


def _duplicates(records: list[dict[str, Any]]) -> list[str]:
    """Ids and questions (with the same history) that occur more than once."""
    ids = Counter(r.get("id") for r in records)
    problems = [f"duplicate id {i!r} ({n} times)" for i, n in ids.items() if n > 1]
    questions = Counter(_question_key(r) for r in records)
    problems += [f"duplicate question {q[:30]!r}" for q, n in questions.items() if n > 1 and q]
    return problems


def _question_key(rec: dict[str, Any]) -> str:
    """A question as asked: the same follow-up after a different history is another question."""
    history = rec.get("history")
    context = json.dumps(history, ensure_ascii=False) if history else ""
    return normalize(str(rec.get("question", ""))) + context


def _counts(records: list[dict[str, Any]], min_total: int, min_unanswerable: int) -> list[str]:
    problems = []
    n_unans = sum(1 for r in records if r.get("type") == "unanswerable")
    if len(records) < min_total:
        problems.append(f"only {len(records)} items (need >= {min_total})")
    if n_unans < min_unanswerable:
        problems.append(f"only {n_unans} unanswerable items (need >= {min_unanswerable})")
    return problems


def validate(
    path: str | Path = DEFAULT_DATASET,
    corpus_dir: str | Path = DEFAULT_CORPUS,
    min_total: int = MIN_TOTAL,
    min_unanswerable: int = MIN_UNANSWERABLE,
    *,
    split_file: str | Path = DEFAULT_SPLIT_FILE,
    require_split: bool = False,
) -> list[str]:
    """Return a list of human-readable problems (empty when the dataset is valid)."""
    return validate_many(
        [path], corpus_dir, min_total, min_unanswerable,
        split_file=split_file, require_split=require_split, prefix=False,
    )


def validate_many(
    paths: Sequence[str | Path],
    corpus_dir: str | Path = DEFAULT_CORPUS,
    min_total: int = 0,
    min_unanswerable: int = 0,
    *,
    split_file: str | Path = DEFAULT_SPLIT_FILE,
    require_split: bool = False,
    prefix: bool = True,
    crud_file: str | Path = news.DEFAULT_CRUD_FILE,
) -> list[str]:
    """Problems of several dataset files read as one set: ids unique across all of them.

    ``min_total`` and ``min_unanswerable`` apply to the union. With ``prefix`` every
    problem found in one file starts with that file's name.
    """
    corpus = load_corpus(corpus_dir, split_file)
    if not corpus.by_file:
        return [f"no corpus files found in {corpus_dir}"]
    problems = list(corpus.problems)
    records: list[dict[str, Any]] = []
    owners: dict[tuple[str, str], set[str]] = {}  # (what, value) -> files holding it
    for path in paths:
        rows, file_problems = load_records(path)
        file_problems += _duplicates(rows)
        for rec in rows:
            file_problems += _check_record(rec, corpus, require_split)
            for key in (("id", str(rec.get("id"))), ("question", _question_key(rec))):
                owners.setdefault(key, set()).add(Path(path).name)
        tag = f"{Path(path).name}: " if prefix else ""
        problems += [tag + p for p in file_problems]
        records += rows
    # What only the union shows: an id or a question in two files.
    problems += [
        f"{what} {value[:30]!r} in several files: {sorted(files)}"
        for (what, value), files in owners.items()
        if len(files) > 1
    ]
    problems += _check_news([r for r in records if news.is_news_row(r)], crud_file)
    problems += _counts(records, min_total, min_unanswerable)
    logger.info("validated %d items from %d file(s): %d problem(s)", len(records), len(paths), len(problems))
    return problems


def summarize(paths: str | Path | Sequence[str | Path] = DEFAULT_DATASET) -> dict[str, Counter]:
    """Counts by type, file (an item counts once per file it cites), split, near miss and article."""
    if isinstance(paths, str | Path):
        paths = [paths]
    records = [r for p in paths for r in load_records(p)[0]]
    by_file: Counter = Counter()
    for r in records:
        files = {ev.get("file") for ev in r.get("evidence") or [] if isinstance(ev, dict)}
        for f in files or {"(none)"}:
            by_file[f] += 1
    return {
        "total": Counter({"items": len(records)}),
        "type": Counter(r.get("type") for r in records),
        "file": by_file,
        "split": Counter(str(r.get("split", "(none)")) for r in records),
        "near_miss": Counter(
            str(r.get("near_miss", "(unlabelled)")) for r in records if r.get("type") == "unanswerable"
        ),
        "article": Counter(a for r in records for a in _row_articles(r)),
    }


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    paths: Annotated[Optional[list[Path]], typer.Argument(help="Dataset files (JSONL); read as one set.")] = None,
    corpus: Annotated[Path, typer.Option("--corpus", help="The corpus folder.")] = DEFAULT_CORPUS,
    min_total: Annotated[
        Optional[int], typer.Option("--min-total", help="Fewest items (default 80 for one file, 0 for several).")
    ] = None,
    split_file: Annotated[Path, typer.Option("--split-file", help="The tune/test split.")] = DEFAULT_SPLIT_FILE,
    require_split: Annotated[
        bool, typer.Option("--require-split", help="Every row must name its article and split.")
    ] = False,
) -> None:
    """Print a summary of the datasets and their problems; exit 1 when there are any."""
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
    paths = paths or [DEFAULT_DATASET]
    several = len(paths) > 1
    total = min_total if min_total is not None else (0 if several else MIN_TOTAL)
    problems = validate_many(
        paths, corpus, total, 0 if several else MIN_UNANSWERABLE, split_file=split_file,
        require_split=require_split, prefix=several,
    )
    summary = summarize(paths)
    typer.echo(f"{', '.join(map(str, paths))}: {summary['total']['items']} items, "
               f"{len(summary['article'])} articles")
    for key, title, order in (
        ("type", "by type", VALID_TYPES),
        ("split", "by split", (*SPLITS, "(none)")),
        ("near_miss", "unanswerable by near miss", (*NEAR_MISS_KINDS, "(unlabelled)")),
    ):
        typer.echo(f"{title}:")
        for name in order:
            if summary[key].get(name) or key == "type":
                typer.echo(f"  {name:<14} {summary[key].get(name, 0):>4}")
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
