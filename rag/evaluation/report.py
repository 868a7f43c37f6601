"""Write an evaluation run's results: metrics.json, report.md, report.html and charts.

Why three formats: ``metrics.json`` is what ``compare`` and CI read, ``report.md``
reads well in a terminal or a pull request, and ``report.html`` is one
self-contained file (inline CSS, charts embedded as data URIs) that can be mailed or
opened offline. Every string from the dataset or the model is HTML-escaped: answers
are model output and may contain markup.

Charts use matplotlib's object API with the Agg canvas directly, so importing this
module never switches the process-wide backend (the Gradio UI shares the process).
"""

from __future__ import annotations

import base64
import html
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rag.evaluation import metrics as M
from rag.verify.citations import SUPPORT_THRESHOLD

logger = logging.getLogger(__name__)

PER_TYPE_COLUMNS: tuple[str, ...] = (
    "recall@5",
    "mrr@10",
    "all_evidence_recall@5",
    "key_fact_accuracy",
    "judge_correctness",
    "citation_precision",
    "citation_coverage",
    "refusal_rate",
    "false_refusal_rate",
)
LATENCY_STATS: tuple[str, ...] = ("p50", "p95")


# ------------------------------------------------------------------ formatting


def fmt(value: Any, pct: bool = True) -> str:
    """A metric for a table cell: rates as percentages, None as a dash."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value * 100:.1f}%" if pct else f"{value:,.1f}"
    return str(value)


def flat_metrics(metrics: Mapping[str, Any]) -> dict[str, float | None]:
    """Overall quality metrics, latency percentiles and token stats in one flat dict."""
    out: dict[str, float | None] = dict(metrics.get("overall", {}))
    out.pop("n", None)
    for key, stats in (metrics.get("latency") or {}).items():
        for stat in LATENCY_STATS:
            out[f"{key}.{stat}"] = stats.get(stat)
    tokens = metrics.get("tokens") or {}
    out["tokens_generated.mean"] = tokens.get("mean")
    out["tokens_per_s"] = tokens.get("tokens_per_s")
    return out


def is_rate(name: str) -> bool:
    return name in M.QUALITY_METRICS


def question_rows(
    items: Sequence[Mapping[str, Any]],
    preds: Sequence[Mapping[str, Any] | None],
    threshold: float = SUPPORT_THRESHOLD,
) -> list[dict[str, Any]]:
    """Per-question outcomes (see :func:`rag.evaluation.metrics.question_outcome`)."""
    return [M.question_outcome(i, p, threshold) for i, p in zip(items, preds, strict=True)]


def _citations_str(row: Mapping[str, Any]) -> str:
    return "; ".join(f"[{c.get('n')}] {c.get('file') or ''}".strip() for c in row.get("citations") or [])


def _pass_str(passed: bool | None) -> str:
    return "–" if passed is None else ("PASS" if passed else "FAIL")


# ---------------------------------------------------------------------- charts


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_metrics(metrics: Mapping[str, Any], path: Path) -> Path | None:
    """Horizontal bar chart of the overall quality metrics that have a value."""
    overall = metrics.get("overall", {})
    names = [n for n in M.QUALITY_METRICS if overall.get(n) is not None]
    if not names:
        return None
    fig = Figure(figsize=(7, 0.4 * len(names) + 1.2))
    ax = fig.add_subplot()
    values = [overall[n] for n in names]
    bars = ax.barh(names[::-1], values[::-1], color="#4c78a8")
    ax.bar_label(bars, labels=[f"{v * 100:.1f}%" for v in values[::-1]], padding=3, fontsize=8)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("score")
    ax.set_title(f"Metrics (n={metrics.get('n_questions', '?')})")
    return _save(fig, path)


def plot_latency(preds: Sequence[Mapping[str, Any] | None], path: Path) -> Path | None:
    """Histogram of per-question latency (total, retrieve, generate), in seconds."""
    series: dict[str, list[float]] = {}
    for key in ("total_ms", "retrieve_ms", "generate_ms"):
        vals = []
        for p in preds:
            if M.usable(p):
                v = (p.get("timings") or {}).get(key)  # type: ignore[union-attr]
                if isinstance(v, int | float) and not isinstance(v, bool):
                    vals.append(v / 1000.0)
        if vals:
            series[key] = vals
    if not series:
        return None
    every = [v for vals in series.values() for v in vals]
    n_bins = min(30, max(5, len(every) // 6))
    bins = np.histogram_bin_edges(every, bins=n_bins)
    fig = Figure(figsize=(7, 3.6))
    ax = fig.add_subplot()
    for key, vals in series.items():
        ax.hist(vals, bins=bins, histtype="step", linewidth=1.8, label=key.removesuffix("_ms"))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("seconds")
    ax.set_ylabel("questions")
    ax.set_title("Latency distribution")
    ax.legend()
    return _save(fig, path)


def plot_runs(runs: Mapping[str, Mapping[str, Any]], path: Path) -> Path | None:
    """Grouped bars of the quality metrics of several runs ("metrics per mode")."""
    labels = list(runs)
    names = [
        n for n in M.QUALITY_METRICS if any(runs[r].get("overall", {}).get(n) is not None for r in labels)
    ]
    if not labels or not names:
        return None
    width = 0.8 / len(labels)
    fig = Figure(figsize=(max(7, 1.1 * len(names)), 4))
    ax = fig.add_subplot()
    for k, label in enumerate(labels):
        vals = [runs[label].get("overall", {}).get(n) or 0.0 for n in names]
        xs = [i + (k - (len(labels) - 1) / 2) * width for i in range(len(names))]
        ax.bar(xs, vals, width=width, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Metrics per run")
    ax.legend(fontsize=8)
    return _save(fig, path)


def run_label(run_dir: Path, metrics: Mapping[str, Any]) -> str:
    """A run's name in charts: its config mode (and k) if known, else the folder name."""
    cfg = (metrics.get("run") or {}).get("config") or {}
    mode = cfg.get("mode")
    if mode:
        return f"{mode} k={cfg['k']}" if cfg.get("k") is not None else str(mode)
    return run_dir.name


def write_runs_chart(run_dirs: Sequence[Path], out_path: Path) -> Path | None:
    """Chart comparing the ``metrics.json`` of several run folders."""
    runs: dict[str, Mapping[str, Any]] = {}
    for d in run_dirs:
        m = json.loads((Path(d) / "metrics.json").read_text(encoding="utf-8"))
        label = run_label(Path(d), m)
        if label in runs:
            label = f"{label} [{Path(d).name}]"
        n = 2
        while label in runs:
            label, n = f"{label} #{n}", n + 1
        runs[label] = m
    return plot_runs(runs, out_path)


# -------------------------------------------------------------------- markdown


def _md(s: Any) -> str:
    """A table cell: one line, pipes escaped."""
    return str(s if s is not None else "").replace("|", "\\|").replace("\r", " ").replace("\n", " ")


def render_markdown(metrics: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], charts: Mapping[str, Path]) -> str:
    run = metrics.get("run") or {}
    lines = ["# Evaluation report", ""]
    if run:
        lines += [
            f"- dataset: `{run.get('dataset', '')}`",
            f"- config: `{json.dumps(run.get('config', {}), ensure_ascii=False, sort_keys=True)}`",
            f"- config hash: `{run.get('config_hash', '')}`, finished {run.get('finished_at', '')}",
        ]
    lines += [
        f"- questions: {metrics.get('n_questions')} "
        f"({metrics.get('n_answerable')} answerable, {metrics.get('n_unanswerable')} unanswerable), "
        f"errors: {metrics.get('n_errors')}",
        f"- citation support threshold: {metrics.get('support_threshold')}",
        "",
        "## Metrics",
        "",
        "| metric | value |",
        "| --- | --- |",
    ]
    for name, value in flat_metrics(metrics).items():
        lines.append(f"| {name} | {fmt(value, pct=is_rate(name))} |")
    lines += ["", "## Per question type", ""]
    lines.append("| type | n | " + " | ".join(PER_TYPE_COLUMNS) + " |")
    lines.append("| --- | --- |" + " --- |" * len(PER_TYPE_COLUMNS))
    for t, m in (metrics.get("per_type") or {}).items():
        cells = " | ".join(fmt(m.get(c)) for c in PER_TYPE_COLUMNS)
        lines.append(f"| {_md(t)} | {m.get('n')} | {cells} |")
    if charts:
        lines += ["", "## Charts", ""]
        lines += [f"![{name}]({p.relative_to(p.parent.parent).as_posix()})" for name, p in charts.items()]
    lines += [
        "",
        "## Questions",
        "",
        "| id | type | question | expected | answer | citations | hit rank | key facts | refused | result |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in rows:
        answer = r.get("answer") if r.get("answer") is not None else (r.get("error") or "")
        lines.append(
            "| "
            + " | ".join(
                _md(x)
                for x in (
                    r.get("id"),
                    r.get("type"),
                    r.get("question"),
                    r.get("expected"),
                    answer,
                    _citations_str(r),
                    r.get("hit_rank") or "–",
                    fmt(r.get("key_fact")),
                    fmt(r.get("refused")),
                    _pass_str(r.get("passed")),
                )
            )
            + " |"
        )
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------ html

_CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI","Noto Sans CJK SC","PingFang SC",sans-serif;
margin:2rem auto;max-width:1200px;padding:0 1rem;color:#222;line-height:1.45}
h1,h2{font-weight:600}table{border-collapse:collapse;margin:1rem 0;font-size:.9rem;width:100%}
th,td{border:1px solid #ddd;padding:.35rem .5rem;text-align:left;vertical-align:top}
th{background:#f3f5f8}td.num{text-align:right;white-space:nowrap}
tr.pass td.res{color:#1a7f37;font-weight:600}tr.fail td.res{color:#cf222e;font-weight:600}
.meta{color:#555;font-size:.9rem}.ans{white-space:pre-wrap;max-width:28rem}
img{max-width:100%;margin:.5rem 0;border:1px solid #eee}
.small{font-size:.8rem;color:#666}
"""


def _e(s: Any) -> str:
    return html.escape("" if s is None else str(s), quote=True)


def _img(path: Path) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{_e(path.stem)}" src="data:image/png;base64,{data}">'


def render_html(metrics: Mapping[str, Any], rows: Sequence[Mapping[str, Any]], charts: Mapping[str, Path]) -> str:
    run = metrics.get("run") or {}
    parts = [
        "<!DOCTYPE html><html lang='zh'><head><meta charset='utf-8'>",
        "<meta name='viewport' content='width=device-width,initial-scale=1'>",
        f"<title>Evaluation report {_e(run.get('config_hash', ''))}</title><style>{_CSS}</style></head><body>",
        "<h1>Evaluation report</h1><div class='meta'>",
    ]
    if run:
        parts.append(f"<div>dataset: <code>{_e(run.get('dataset'))}</code></div>")
        cfg = json.dumps(run.get("config", {}), ensure_ascii=False, sort_keys=True)
        parts.append(f"<div>config: <code>{_e(cfg)}</code> (hash {_e(run.get('config_hash'))})</div>")
        parts.append(f"<div>finished: {_e(run.get('finished_at'))}</div>")
    parts.append(
        f"<div>questions: {_e(metrics.get('n_questions'))} ({_e(metrics.get('n_answerable'))} answerable, "
        f"{_e(metrics.get('n_unanswerable'))} unanswerable), errors: {_e(metrics.get('n_errors'))}, "
        f"citation support threshold: {_e(metrics.get('support_threshold'))}</div></div>"
    )
    parts.append("<h2>Metrics</h2><table><tr><th>metric</th><th>value</th></tr>")
    for name, value in flat_metrics(metrics).items():
        parts.append(f"<tr><td>{_e(name)}</td><td class='num'>{_e(fmt(value, pct=is_rate(name)))}</td></tr>")
    parts.append("</table><h2>Per question type</h2><table><tr><th>type</th><th>n</th>")
    parts += [f"<th>{_e(c)}</th>" for c in PER_TYPE_COLUMNS]
    parts.append("</tr>")
    for t, m in (metrics.get("per_type") or {}).items():
        cells = "".join(f"<td class='num'>{_e(fmt(m.get(c)))}</td>" for c in PER_TYPE_COLUMNS)
        parts.append(f"<tr><td>{_e(t)}</td><td class='num'>{_e(m.get('n'))}</td>{cells}</tr>")
    parts.append("</table>")
    if charts:
        parts.append("<h2>Charts</h2>")
        parts += [_img(p) for p in charts.values()]
    parts.append(
        "<h2>Questions</h2><table><tr><th>id</th><th>type</th><th>question</th><th>expected</th>"
        "<th>answer</th><th>citations</th><th>hit rank</th><th>key facts</th><th>refused</th><th>result</th></tr>"
    )
    for r in rows:
        cls = {True: "pass", False: "fail"}.get(r.get("passed"), "")
        answer = r.get("answer")
        answer_html = _e(answer) if answer is not None else f"<span class='small'>{_e(r.get('error') or '')}</span>"
        parts.append(
            f"<tr class='{cls}'><td>{_e(r.get('id'))}</td><td>{_e(r.get('type'))}</td>"
            f"<td>{_e(r.get('question'))}</td><td class='ans'>{_e(r.get('expected'))}</td>"
            f"<td class='ans'>{answer_html}</td><td>{_e(_citations_str(r))}</td>"
            f"<td class='num'>{_e(r.get('hit_rank') or '–')}</td><td>{_e(fmt(r.get('key_fact')))}</td>"
            f"<td>{_e(fmt(r.get('refused')))}</td><td class='res'>{_e(_pass_str(r.get('passed')))}</td></tr>"
        )
    parts.append("</table></body></html>")
    return "\n".join(parts)


# ----------------------------------------------------------------------- write


def write_report(
    out_dir: Path,
    items: Sequence[Mapping[str, Any]],
    preds: Sequence[Mapping[str, Any] | None],
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
