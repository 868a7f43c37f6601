"""RGB importer (``zh.json``, ``zh_int.json``, ``zh_fact.json``; one JSON object per line).

Fields: ``id``, ``query``, ``answer``, ``positive``, ``negative``. ``answer`` follows
RGB's ``checkanswer``: each top-level element is one *required* answer, either a
string or a list of accepted alternatives (``["1月3日", "1月12日"]`` needs both,
``[["北京", "北京市"]]`` needs one of the two). ``positive`` is a list of documents,
or in ``*_int`` files a list of document groups, one per required answer.
Counterfactual ``positive_wrong`` documents are not imported.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.evaluation.importers.common import Corpus, ImportSummary, clip, finish, quote_containing, read_json_or_jsonl
from rag.text.normalize import compact


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
    data = read_json_or_jsonl(src)
    if isinstance(data, Mapping):
        data = [data]
    data = list(data)[:limit] if limit is not None else list(data)
    n_unans = round(len(data) * unanswerable_share)
    unanswerable = set(random.Random(seed).sample(range(len(data)), n_unans)) if n_unans else set()

    corpus = Corpus(out / "corpus", "rgb")
    # Positives kept by answerable questions win over a removal by an unanswerable one.
    kept_positive = {
        Corpus.key(d)
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
                    if Corpus.key(doc) in kept_positive:
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
                quote = quote_containing(doc, alts) or clip(doc)
                ev: dict[str, Any] = {"file": file, "quote": quote}
                if grouped:
                    ev["group"] = gi
                evidence.append(ev)
        row["answer_alternatives"] = groups
        row["evidence"] = _dedupe_evidence(evidence)
        row["type"] = "multi-passage" if len(groups) > 1 else "factoid"
        rows.append(row)

    options = {"limit": limit, "unanswerable_share": unanswerable_share, "seed": seed}
    return finish("rgb", src, out, options, rows, corpus)


def _dedupe_evidence(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    seen: set[tuple[Any, str]] = set()
    out = []
    for ev in evidence:
        key = (ev.get("group"), compact(ev["quote"]))
        if key not in seen:
            seen.add(key)
            out.append(ev)
    return out
