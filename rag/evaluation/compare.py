"""Compare two evaluation runs: metrics side by side, and the questions that changed.

Why: a change to chunking, retrieval or the prompt is judged by what it does to the
numbers *and* to individual questions; a ``tune`` run against a ``test`` run of the
same config shows the generalisation gap (B − A per metric) — an unchanged average can hide five fixed
and five newly broken answers. Both runs are read from their folders
(``metrics.json`` and ``per_question.jsonl`` written by :mod:`rag.evaluation.report`).
The result is Markdown, which ``rich.markdown.Markdown`` renders in a terminal.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rag.evaluation.metrics import LOWER_IS_BETTER
from rag.evaluation.tables import flat_metrics, fmt, is_rate, metric_label, run_label

logger = logging.getLogger(__name__)

LOWER_IS_BETTER_PREFIXES: tuple[str, ...] = ("retrieve_ms", "generate_ms", "total_ms", "ttft_ms")
MAX_TEXT = 40


def load_run(run_dir: str | Path) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """A run's metrics and its per-question rows by id."""
    d = Path(run_dir)
    metrics = json.loads((d / "metrics.json").read_text(encoding="utf-8"))
    rows: dict[str, dict[str, Any]] = {}
    pq = d / "per_question.jsonl"
    if pq.exists():
        for line in pq.read_text(encoding="utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                rows[str(r.get("id"))] = r
    return metrics, rows


def _lower_is_better(name: str) -> bool:
    return name in LOWER_IS_BETTER or name.startswith(LOWER_IS_BETTER_PREFIXES)


def _delta(name: str, a: float | None, b: float | None) -> str:
    if a is None or b is None:
        return "–"
    d = b - a
    if abs(d) < 1e-12:
        return "0"
    text = f"{d * 100:+.1f} pp" if is_rate(name) else f"{d:+,.1f}"
    better = (d < 0) if _lower_is_better(name) else (d > 0)
    return f"{text} {'▲' if better else '▼'}"


def _short(s: Any) -> str:
    s = str(s or "").replace("\n", " ").replace("|", "\\|")
    return s if len(s) <= MAX_TEXT else s[: MAX_TEXT - 1] + "…"


def _outcome(r: Mapping[str, Any] | None) -> str:
    if r is None:
        return "absent"
    if r.get("error"):
        return "error"
    parts = []
    if r.get("key_fact") is not None:
        parts.append("key facts ok" if r["key_fact"] else "key facts missing")
    if r.get("refused") is not None:
        parts.append("refused" if r["refused"] else "answered")
    passed = r.get("passed")
    parts.append({True: "PASS", False: "FAIL"}.get(passed, "–"))
    return ", ".join(parts)


def changed_questions(
    rows_a: Mapping[str, Mapping[str, Any]], rows_b: Mapping[str, Mapping[str, Any]]
) -> list[tuple[str, Mapping[str, Any] | None, Mapping[str, Any] | None]]:
    """Ids whose key-fact result, refusal or pass/fail differs between the runs."""
    out = []
    for qid in list(rows_a) + [q for q in rows_b if q not in rows_a]:
        a, b = rows_a.get(qid), rows_b.get(qid)
        if a is None or b is None:
            continue
        if any(a.get(k) != b.get(k) for k in ("key_fact", "refused", "passed")) or bool(a.get("error")) != bool(
            b.get("error")
        ):
            out.append((qid, a, b))
    return out


def _split(metrics: Mapping[str, Any]) -> str | None:
    return ((metrics.get("run") or {}).get("config") or {}).get("split")


def _gap_note(ma: Mapping[str, Any], mb: Mapping[str, Any]) -> list[str]:
    """A line saying that Δ is the tune/test gap when A and B ran different splits."""
    a, b = _split(ma), _split(mb)
    if not a or not b or a == b:
        return []
    return [f"A ran the `{a}` split and B the `{b}` split: Δ is the {a}/{b} gap (no question is in both).", ""]


def compare_runs(run_a_dir: str | Path, run_b_dir: str | Path) -> str:
    """Markdown: metric table A | B | delta (▲ better, ▼ worse), then changed questions."""
    ma, ra = load_run(run_a_dir)
    mb, rb = load_run(run_b_dir)
    la, lb = run_label(Path(run_a_dir), ma), run_label(Path(run_b_dir), mb)
    fa, fb = flat_metrics(ma), flat_metrics(mb)
    lines = [
        f"## A: {la} (`{run_a_dir}`) vs B: {lb} (`{run_b_dir}`)",
        "",
        f"Questions: A {ma.get('n_questions')} ({ma.get('n_errors')} errors), "
        f"B {mb.get('n_questions')} ({mb.get('n_errors')} errors)",
        "",
        *_gap_note(ma, mb),
        "| metric | A | B | Δ (B − A) |",
        "| --- | ---: | ---: | ---: |",
    ]
    for name in list(fa) + [n for n in fb if n not in fa]:
        a, b = fa.get(name), fb.get(name)
        if a is None and b is None:
            continue
        pct = is_rate(name)
        lines.append(f"| {metric_label(name)} | {fmt(a, pct)} | {fmt(b, pct)} | {_delta(name, a, b)} |")

    changed = changed_questions(ra, rb)
    lines += ["", f"### Questions whose outcome changed ({len(changed)})", ""]
    if changed:
        lines += ["| id | question | A | B |", "| --- | --- | --- | --- |"]
        for qid, a, b in changed:
            question = _short((a or b or {}).get("question"))
            lines.append(f"| {_short(qid)} | {question} | {_outcome(a)} | {_outcome(b)} |")
    else:
        lines.append("None.")
    only_a = sorted(set(ra) - set(rb))
    only_b = sorted(set(rb) - set(ra))
    if only_a or only_b:
        lines += ["", f"Only in A: {len(only_a)} questions; only in B: {len(only_b)} questions."]
    return "\n".join(lines) + "\n"
