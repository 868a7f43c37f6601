"""Turn public Chinese RAG benchmarks into a corpus folder plus a dataset in our schema.

Why: our hand-written dev set is small; RGB and CRUD-RAG give hundreds of
questions with known supporting documents. Each importer writes

    OUT_DIR/corpus/<source>_<hash>.txt   one document per file (deduplicated by content)
    OUT_DIR/dataset.jsonl                one question per line (eval/README.md schema)
    OUT_DIR/import.json                  counts and the options used

so ``rag ingest OUT_DIR/corpus`` + ``rag eval OUT_DIR/dataset.jsonl`` run them.

Formats (checked against the benchmarks' own loaders):

* RGB (``zh.json``, ``zh_int.json``, ``zh_fact.json``; one JSON object per line):
  ``id``, ``query``, ``answer``, ``positive``, ``negative``. ``answer`` follows RGB's
  ``checkanswer``: each top-level element is one *required* answer, either a
  string or a list of accepted alternatives (``["1月3日", "1月12日"]`` needs both,
  ``[["北京", "北京市"]]`` needs one of the two). ``positive`` is a list of
  documents, or in ``*_int`` files a list of document groups, one per required
  answer. Counterfactual ``positive_wrong`` documents are not imported.
* CRUD-RAG (``crud_split/split_merged.json``): a JSON object whose
  ``questanswer_1doc`` / ``questanswer_2docs`` / ``questanswer_3docs`` lists hold
  entries with ``ID``, ``event``, ``questions``, ``answers`` and ``news1`` ..
  ``newsN``. Other tasks (summaries, continuation, hallucination editing) are
  skipped; any other key starting with ``questanswer`` is taken too.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import random
import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.evaluation.metrics import normalize
from rag.verify.citations import split_sentences, support_score

logger = logging.getLogger(__name__)

MAX_QUOTE_CHARS = 120
SHORT_ANSWER_CHARS = 20
_FIGURE_RE = re.compile(
    r"\d+(?:\.\d+)?(?:%|[万亿千百]*(?:元|美元|港元|人次|人|家|个|辆|吨|名|位|笔|批次|批|件|项|公里|米|倍|亿|万))"
)
_UNANSWERABLE_MARKERS = ("无法推断", "无法回答", "信息不足")


@dataclass
class ImportSummary:
    """What an import wrote (also saved as ``import.json``)."""

    source: str
    input: str
    corpus_dir: str
    dataset: str
    questions: int = 0
    documents: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class _Corpus:
    """Writes each distinct document once and returns its file name."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.files: dict[str, str] = {}
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()[:12]

    def name(self, text: str) -> str:
        return f"{self.prefix}_{self.key(text)}.txt"

    def add(self, text: str) -> str:
        k = self.key(text)
        if k not in self.files:
            self.files[k] = self.name(text)
            (self.root / self.files[k]).write_text(text.strip() + "\n", encoding="utf-8")
        return self.files[k]


# ----------------------------------------------------------------------- shared


def _read_json_or_jsonl(path: Path) -> Any:
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def _quote_containing(doc: str, needles: Iterable[str]) -> str | None:
    """The first sentence of ``doc`` containing one of ``needles`` (normalised)."""
    wanted = [normalize(n) for n in needles if normalize(n)]
    for sentence in split_sentences(doc):
        ns = normalize(sentence)
        if any(w in ns for w in wanted):
            return _clip(sentence, wanted)
    return None


def _clip(sentence: str, wanted: list[str] | None = None) -> str:
    """Keep quotes short enough to sit inside one chunk, around the answer if given."""
    s = sentence.strip()
    if len(s) <= MAX_QUOTE_CHARS:
        return s
    if wanted:
        for w in wanted:
            i = s.find(w)
            if i >= 0:
                start = max(0, min(i - MAX_QUOTE_CHARS // 3, len(s) - MAX_QUOTE_CHARS))
                return s[start : start + MAX_QUOTE_CHARS]
    return s[:MAX_QUOTE_CHARS]


def _best_quote(doc: str, target: str) -> str | None:
    """The sentence of ``doc`` that best supports ``target`` (answer or question)."""
    sentences = [s for s in split_sentences(doc) if len(normalize(s)) >= 8]
    if not sentences:
        return _clip(doc) if doc.strip() else None
    best = max(sentences, key=lambda s: support_score(target, s))
    return _clip(best)


def _write_dataset(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def _finish(summary: ImportSummary, rows: list[dict[str, Any]], corpus: _Corpus, out_dir: Path) -> ImportSummary:
    _write_dataset(Path(summary.dataset), rows)
    summary.questions = len(rows)
    summary.documents = len(corpus.files)
    summary.by_type = dict(Counter(r["type"] for r in rows))
    (out_dir / "import.json").write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("%s: %d questions, %d documents -> %s", summary.source, summary.questions, summary.documents, out_dir)
    return summary


# -------------------------------------------------------------------------- RGB


def rgb_answer_groups(answer: Any) -> list[list[str]]:
    """RGB ``answer`` as required answers with alternatives (RGB ``checkanswer`` rules)."""
    if answer is None:
        return []
    if isinstance(answer, str):
        return [[answer]] if answer.strip() else []
    groups: list[list[str]] = []
    for element in answer:
        if isinstance(element, str):
            if element.strip():
                groups.append([element])
        elif isinstance(element, list):
            alts = [str(a) for a in element if str(a).strip()]
            if alts:
                groups.append(alts)
    return groups


def _rgb_positive_groups(positive: Any) -> list[list[str]]:
    """``positive`` as document groups: ``*_int`` files group them per answer."""
    if not positive:
        return []
    if all(isinstance(p, list) for p in positive):
        return [[str(d) for d in g if str(d).strip()] for g in positive]
    return [[str(p)] for p in positive if isinstance(p, str) and p.strip()]


def import_rgb(
    input_path: str | Path,
    out_dir: str | Path,
    limit: int | None = None,
    unanswerable_share: float = 0.0,
    seed: int = 0,
) -> ImportSummary:
    """Import an RGB file. ``unanswerable_share`` of the questions (chosen with
    ``seed``) lose their positive documents from the corpus and become
    ``unanswerable`` — RGB's negative-rejection setting as a retrieval corpus."""
    src, out = Path(input_path), Path(out_dir)
    data = _read_json_or_jsonl(src)
    if isinstance(data, Mapping):
        data = [data]
    data = list(data)[:limit] if limit is not None else list(data)
    n_unans = round(len(data) * unanswerable_share)
    unanswerable = set(random.Random(seed).sample(range(len(data)), n_unans)) if n_unans else set()

    corpus = _Corpus(out / "corpus", "rgb")
    # Positives kept by answerable questions win over a removal by an unanswerable one.
    kept_positive = {
        _Corpus.key(d)
        for n, inst in enumerate(data)
        if n not in unanswerable
        for g in _rgb_positive_groups(inst.get("positive"))
        for d in g
    }
    rows: list[dict[str, Any]] = []
    for n, inst in enumerate(data):
        groups = rgb_answer_groups(inst.get("answer"))
        pos_groups = _rgb_positive_groups(inst.get("positive"))
        for doc in inst.get("negative") or []:
            if isinstance(doc, str) and doc.strip():
                corpus.add(doc)
        row: dict[str, Any] = {
            "id": f"rgb-{inst.get('id', n)}",
            "question": str(inst.get("query", "")).strip(),
            "answer": "；".join(g[0] for g in groups),
            "source": "rgb",
        }
        if n in unanswerable or not pos_groups:
            for g in pos_groups:
                for doc in g:
                    if _Corpus.key(doc) in kept_positive:
                        corpus.add(doc)
            row["type"] = "unanswerable"
            row["answer"] = ""
            rows.append(row)
            continue
        evidence: list[dict[str, Any]] = []
        grouped = len(pos_groups) == len(groups) and len(groups) > 1
        for gi, docs in enumerate(pos_groups):
            alts = groups[gi] if grouped else [a for g in groups for a in g]
            for doc in docs:
                file = corpus.add(doc)
                quote = _quote_containing(doc, alts) or _clip(doc)
                ev: dict[str, Any] = {"file": file, "quote": quote}
                if grouped:
                    ev["group"] = gi
                evidence.append(ev)
        row["answer_alternatives"] = groups
        row["evidence"] = _dedupe_evidence(evidence)
        row["type"] = "multi-passage" if len(groups) > 1 else "factoid"
        rows.append(row)

    summary = ImportSummary(
        source="rgb",
        input=str(src),
        corpus_dir=str(out / "corpus"),
        dataset=str(out / "dataset.jsonl"),
        options={"limit": limit, "unanswerable_share": unanswerable_share, "seed": seed},
    )
    return _finish(summary, rows, corpus, out)


def _dedupe_evidence(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, str]] = set()
    out = []
    for ev in evidence:
        key = (ev.get("group"), normalize(ev["quote"]))
        if key not in seen:
            seen.add(key)
            out.append(ev)
    return out


# --------------------------------------------------------------------- CRUD-RAG


def _crud_entries(data: Any, tasks: Iterable[str] | None) -> Iterator[tuple[str, int, Mapping[str, Any]]]:
    if isinstance(data, list):
        data = {"questanswer": data}
    if not isinstance(data, Mapping):
        raise ValueError("CRUD-RAG input must be a JSON object of task lists (or one list)")
    wanted = list(tasks) if tasks else [k for k in data if str(k).startswith("questanswer")]
    missing = [t for t in wanted if t not in data]
    if missing:
        raise ValueError(f"tasks not in the file: {missing}; it has {sorted(data)}")
    for task in wanted:
        for n, entry in enumerate(data[task] or []):
            if isinstance(entry, Mapping):
                yield task, n, entry


def _news_docs(entry: Mapping[str, Any]) -> list[str]:
    keyed = sorted(
        ((int(m.group(1)), v) for k, v in entry.items() if (m := re.fullmatch(r"news(\d+)", str(k)))),
        key=lambda kv: kv[0],
    )
    docs = [str(v) for _, v in keyed if isinstance(v, str) and v.strip()]
    extra = entry.get("news")
    if isinstance(extra, list):
        docs += [str(v) for v in extra if isinstance(v, str) and v.strip()]
    elif isinstance(extra, str) and extra.strip():
        docs.append(extra)
    return docs


def _as_list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, list):
        return [str(v) for v in value]
    return [str(value)]


def crud_must_include(answer: str, docs: list[str]) -> list[str]:
    """Key facts for a CRUD answer: the whole answer when short, else its figures
    with units ("500万元", "19批次") — only those a source document contains."""
    ndocs = [normalize(d) for d in docs]
    a = answer.strip().rstrip("。.")
    if a and len(normalize(a)) <= SHORT_ANSWER_CHARS and any(normalize(a) in d for d in ndocs):
        return [a]
    facts = []
    for fig in dict.fromkeys(_FIGURE_RE.findall(answer)):
        if any(normalize(fig) in d for d in ndocs):
            facts.append(fig)
    return facts[:3]


def import_crud(
    input_path: str | Path,
    out_dir: str | Path,
    limit: int | None = None,
    tasks: Iterable[str] | None = None,
) -> ImportSummary:
    """Import CRUD-RAG question-answer tasks; ``limit`` applies per task."""
    src, out = Path(input_path), Path(out_dir)
    data = _read_json_or_jsonl(src)
    corpus = _Corpus(out / "corpus", "crud")
    rows: list[dict[str, Any]] = []
    per_task: Counter[str] = Counter()
    for task, n, entry in _crud_entries(data, tasks):
        docs = _news_docs(entry)
        questions = _as_list(entry.get("questions", entry.get("question")))
        answers = _as_list(entry.get("answers", entry.get("answer")))
        if not questions:
            continue
        files = [corpus.add(d) for d in docs]
        for qi, question in enumerate(questions):
            if limit is not None and per_task[task] >= limit:
                break
            per_task[task] += 1
            answer = answers[qi] if qi < len(answers) else (answers[0] if len(answers) == 1 else "")
            base_id = entry.get("ID", entry.get("id", n))
            row: dict[str, Any] = {
                "id": f"crud-{task}-{base_id}" + (f"-{qi}" if len(questions) > 1 else ""),
                "question": question.strip(),
                "answer": answer.strip(),
                "source": f"crud:{task}",
            }
            if not answer.strip() or any(m in answer for m in _UNANSWERABLE_MARKERS) or not docs:
                row["type"] = "unanswerable"
                row["answer"] = ""
                rows.append(row)
                continue
            target = f"{question} {answer}"
            evidence = []
            for gi, (doc, file) in enumerate(zip(docs, files, strict=True)):
                quote = _best_quote(doc, target)
                if quote:
                    evidence.append({"file": file, "quote": quote, "group": gi})
            row["evidence"] = evidence
            facts = crud_must_include(answer, docs)
            if facts:
                row["must_include"] = facts
            row["type"] = "multi-passage" if len(docs) > 1 else "factoid"
            rows.append(row)

    summary = ImportSummary(
        source="crud",
        input=str(src),
        corpus_dir=str(out / "corpus"),
        dataset=str(out / "dataset.jsonl"),
        options={"limit": limit, "tasks": list(tasks) if tasks else None},
    )
    return _finish(summary, rows, corpus, out)


# -------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> None:
    """``python -m rag.evaluation.importers rgb|crud INPUT OUT_DIR [--limit N]``."""
    parser = argparse.ArgumentParser(description="Import a public benchmark as corpus + dataset.")
    parser.add_argument("format", choices=["rgb", "crud"])
    parser.add_argument("input", type=Path)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--limit", type=int, default=None, help="max questions (CRUD: per task)")
    parser.add_argument("--unanswerable-share", type=float, default=0.0, help="RGB: share made unanswerable")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--tasks", nargs="*", help="CRUD: task keys (default: every questanswer_*)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if args.format == "rgb":
        summary = import_rgb(args.input, args.out_dir, args.limit, args.unanswerable_share, args.seed)
    else:
        summary = import_crud(args.input, args.out_dir, args.limit, args.tasks)
    print(json.dumps(asdict(summary), ensure_ascii=False, indent=2))  # CLI output


if __name__ == "__main__":
    main()
