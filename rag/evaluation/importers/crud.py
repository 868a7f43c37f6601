"""CRUD-RAG importer (``crud_split/split_merged.json``).

A JSON object whose ``questanswer_1doc`` / ``questanswer_2docs`` /
``questanswer_3docs`` lists hold entries with ``ID``, ``event``, ``questions``,
``answers`` and ``news1`` .. ``newsN``. Other tasks (summaries, continuation,
hallucination editing) are skipped; any other key starting with ``questanswer`` is
taken too.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

from rag.evaluation.importers.common import Corpus, ImportSummary, best_quote, finish, read_json_or_jsonl
from rag.text.normalize import compact

SHORT_ANSWER_CHARS = 20
_FIGURE_RE = re.compile(
    r"\d+(?:\.\d+)?(?:%|[万亿千百]*(?:元|美元|港元|人次|人|家|个|辆|吨|名|位|笔|批次|批|件|项|公里|米|倍|亿|万))"
)
_UNANSWERABLE_MARKERS = ("无法推断", "无法回答", "信息不足")


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
    ndocs = [compact(d) for d in docs]
    a = answer.strip().rstrip("。.")
    if a and len(compact(a)) <= SHORT_ANSWER_CHARS and any(compact(a) in d for d in ndocs):
        return [a]
    facts = []
    for fig in dict.fromkeys(_FIGURE_RE.findall(answer)):
        if any(compact(fig) in d for d in ndocs):
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
    data = read_json_or_jsonl(src)
    corpus = Corpus(out / "corpus", "crud")
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
                quote = best_quote(doc, target)
                if quote:
                    evidence.append({"file": file, "quote": quote, "group": gi})
            row["evidence"] = evidence
            facts = crud_must_include(answer, docs)
            if facts:
                row["must_include"] = facts
            row["type"] = "multi-passage" if len(docs) > 1 else "factoid"
            rows.append(row)

    options = {"limit": limit, "tasks": list(tasks) if tasks else None}
    return finish("crud", src, out, options, rows, corpus)
