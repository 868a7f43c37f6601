"""Write an evaluation run's results: metrics.json, report.md, report.html and charts.

Why three formats: ``metrics.json`` is what ``compare`` and CI read, ``report.md``
reads well in a terminal or a pull request, and ``report.html`` is one
self-contained file (inline CSS, charts embedded as data URIs) that can be mailed or
opened offline. Both reports are jinja2 templates (``templates/report.md`` and
``templates/report.html``) filled from the same view of the run; the HTML one is
autoescaped: answers are model output and may contain markup.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Mapping, Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import jinja2

from rag.evaluation.charts import plot_latency, plot_metrics
from rag.evaluation.dataset import Item
from rag.evaluation.metrics import question_outcome
from rag.evaluation.metrics.predictions import Pred
from rag.evaluation.dataset import NO_NEAR_MISS
from rag.evaluation.tables import (
    PER_TYPE_COLUMNS,
    citations_cell,
    evidence_cell,
    flat_metrics,
    fmt,
    group_rows,
    is_rate,
    metric_label,
    pass_cell,
)
from rag.verify.support import SUPPORT_THRESHOLD

logger = logging.getLogger(__name__)


def question_rows(
    items: Sequence[Item], preds: Sequence[Pred], threshold: float = SUPPORT_THRESHOLD
) -> list[dict[str, Any]]:
    """Per-question outcomes (see :func:`rag.evaluation.metrics.question_outcome`)."""
    return [question_outcome(i, p, threshold) for i, p in zip(items, preds, strict=True)]


def _markdown_cell(value: Any) -> str:
    """A Markdown table cell: one line, pipes escaped."""
    text = str(value if value is not None else "")
    return text.replace("|", "\\|").replace("\r", " ").replace("\n", " ")


@lru_cache(maxsize=1)
def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("rag.evaluation", "templates"),
        autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default=False),
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
        finalize=lambda v: "" if v is None else v,  # a missing value is an empty cell
    )
    env.filters["cell"] = _markdown_cell
    return env


def _row_view(row: Mapping[str, Any]) -> dict[str, Any]:
    """A per-question row as both reports show it."""
    passed = row.get("passed")
    kind = row.get("near_miss")
    return {
        "id": row.get("id"),
        "type": f"{row.get('type')} · {kind}" if kind and kind != NO_NEAR_MISS else row.get("type"),
        "question": row.get("question"),
        "expected": row.get("expected"),
        "answer": row.get("answer"),
        "error": row.get("error") or "",
        "citations": citations_cell(row),
        "cited_evidence": evidence_cell(row),
        "hit_rank": row.get("hit_rank") or "–",
        "key_fact": fmt(row.get("key_fact")),
        "refused": fmt(row.get("refused")),
        "result": pass_cell(passed),
        "css_class": {True: "pass", False: "fail"}.get(passed, ""),
    }


def _context(metrics: Mapping[str, Any], rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    run = metrics.get("run") or {}
    return {
        "run": run,
        "config": json.dumps(run.get("config", {}), ensure_ascii=False, sort_keys=True),
        "metrics": metrics,
        "flat": [(metric_label(name), fmt(value, pct=is_rate(name))) for name, value in flat_metrics(metrics).items()],
        "per_type_columns": [metric_label(c) for c in PER_TYPE_COLUMNS],
        "per_type": group_rows(metrics),
        "per_split": group_rows(metrics, (("per_split", "{}"),)),
        "rows": [_row_view(r) for r in rows],
    }


def render_markdown(metrics: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], charts: Mapping[str, Path]) -> str:
    """``report.md``; chart links are relative to the run folder."""
    views = [{"name": name, "path": p.relative_to(p.parent.parent).as_posix()} for name, p in charts.items()]
    return _environment().get_template("report.md").render(**_context(metrics, rows), charts=views)


def render_html(metrics: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], charts: Mapping[str, Path]) -> str:
    """``report.html``: one self-contained page, charts inlined as PNG data URIs."""
    views = [{"name": p.stem, "data": base64.b64encode(p.read_bytes()).decode("ascii")} for p in charts.values()]
    return _environment().get_template("report.html").render(**_context(metrics, rows), charts=views)


def write_report(
    out_dir: Path,
    items: Sequence[Item],
    preds: Sequence[Pred],
    metrics: Mapping[str, Any],
    threshold: float = SUPPORT_THRESHOLD,
) -> dict[str, Path]:
    """Write every report file of a run into ``out_dir``; returns their paths by name."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = question_rows(items, preds, threshold)
    charts: dict[str, Path] = {}
    for name, made in (
        ("metrics", plot_metrics(metrics, out_dir / "charts" / "metrics.png")),
        ("latency", plot_latency(preds, out_dir / "charts" / "latency.png")),
    ):
        if made is not None:
            charts[name] = made

    paths = {
        "metrics": out_dir / "metrics.json",
        "per_question": out_dir / "per_question.jsonl",
        "markdown": out_dir / "report.md",
        "html": out_dir / "report.html",
    }
    paths["metrics"].write_text(json.dumps(metrics, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    with paths["per_question"].open("w", encoding="utf-8") as f:
        for r in rows:
            f.write(json.dumps(r, ensure_ascii=False, default=str) + "\n")
    cfg = (metrics.get("run") or {}).get("config")
    if cfg is not None:
        paths["config"] = out_dir / "config.json"
        paths["config"].write_text(json.dumps(cfg, ensure_ascii=False, indent=2, default=str), encoding="utf-8")
    paths["markdown"].write_text(render_markdown(metrics, rows, charts), encoding="utf-8")
    paths["html"].write_text(render_html(metrics, rows, charts), encoding="utf-8")
    paths.update({f"chart_{k}": v for k, v in charts.items()})
    logger.info("report written to %s", out_dir)
    return paths
