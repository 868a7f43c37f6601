"""The report's PNG charts: metrics bars, latency histogram, metrics of several runs, the
context-size frontier.

Charts use matplotlib's object API with the Agg canvas directly, so importing this
module never switches the process-wide backend (the Gradio UI shares the process).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from rag.evaluation.frontier import FrontierPoint
from rag.evaluation.metrics import QUALITY_METRICS
from rag.evaluation.metrics.latency import timing
from rag.evaluation.metrics.predictions import Pred
from rag.evaluation.tables import metric_label, run_label

LATENCY_SERIES: tuple[str, ...] = ("total_ms", "retrieve_ms", "generate_ms")


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=110, bbox_inches="tight")
    return path


def plot_metrics(metrics: Mapping[str, Any], path: Path) -> Path | None:
    """Horizontal bar chart of the overall quality metrics that have a value."""
    overall = metrics.get("overall", {})
    names = [n for n in QUALITY_METRICS if overall.get(n) is not None]
    if not names:
        return None
    fig = Figure(figsize=(7, 0.4 * len(names) + 1.2))
    ax = fig.add_subplot()
    values = [overall[n] for n in names]
    bars = ax.barh([metric_label(n) for n in names[::-1]], values[::-1], color="#4c78a8")
    ax.bar_label(bars, labels=[f"{v * 100:.1f}%" for v in values[::-1]], padding=3, fontsize=8)
    ax.set_xlim(0, 1.12)
    ax.set_xlabel("score")
    ax.set_title(f"Metrics (n={metrics.get('n_questions', '?')})")
    return _save(fig, path)


def plot_latency(preds: Sequence[Pred], path: Path) -> Path | None:
    """Histogram of per-question latency (total, retrieve, generate), in seconds."""
    series: dict[str, list[float]] = {}
    for key in LATENCY_SERIES:
        vals = [v / 1000.0 for v in (timing(p, key) for p in preds) if v is not None]
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
    names = [n for n in QUALITY_METRICS if any(runs[r].get("overall", {}).get(n) is not None for r in labels)]
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
    ax.set_xticklabels([metric_label(n) for n in names], rotation=35, ha="right", fontsize=8)
    ax.set_ylim(0, 1.05)
    ax.set_title("Metrics per run")
    ax.legend(fontsize=8)
    return _save(fig, path)


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


def plot_frontier(points: Sequence[FrontierPoint], path: Path) -> Path | None:
    """Key facts (and false refusal) against context size, and key facts against the
    time to first token each size costs: the frontier the default is chosen on."""
    if not points:
        return None
    chars = [p.context_chars for p in points]
    fig = Figure(figsize=(10.5, 3.8), layout="constrained")
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    left.plot(chars, [p.key_facts for p in points], marker="o", label="key facts")
    if all(p.false_refusal is not None for p in points):
        left.plot(chars, [p.false_refusal for p in points], marker="s", label="false refusal")
    left.set_xlabel("context characters (RAG_LLM_CONTEXT_CHARS)")
    left.set_ylim(0, 1.0)
    left.set_xticks(chars)
    left.legend(fontsize=8)
    left.set_title("Quality against context size")
    timed = [p for p in points if p.ttft_p50_s is not None]
    right.plot([p.ttft_p50_s for p in timed], [p.key_facts for p in timed], marker="o")
    for p in timed:
        right.annotate(f"{p.context_chars}", (p.ttft_p50_s, p.key_facts), textcoords="offset points", xytext=(5, -12))
    right.set_xlabel("time to first token, p50 (s)")
    right.set_ylabel("key facts")
    right.set_ylim(0, 1.0)  # the same scale as the left: a zoomed axis would oversell a small gain
    right.set_title("Key facts against waiting")
    return _save(fig, path)
