"""Report files: contents, escaping, self-contained HTML, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE

from rag.evaluation.metrics import compute_metrics
from rag.evaluation.report import fmt, plot_runs, write_report, write_runs_chart

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _run(tmp_path: Path, make_pred: Any, name: str = "run", mode: str = "local") -> Path:
    items = [
        {"id": "x1", "type": "factoid", "question": "<script>alert(1)</script>问题", "answer": "170亿美元",
         "must_include": ["170亿美元"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
        {"id": "x2", "type": "unanswerable", "question": "火星？", "answer": ""},
    ]
    preds = [
        make_pred("黑石净流入170亿美元[1]。<img src=x onerror=alert(1)>", {1: PASSAGE_BLACKSTONE}, [PASSAGE_BLACKSTONE]),
        make_pred("资料中没有相关信息。", refused=True),
    ]
    metrics = compute_metrics(items, preds)
    metrics["run"] = {"dataset": "d.jsonl", "config": {"mode": mode, "k": 5}, "config_hash": "abc"}
    out = tmp_path / name
    write_report(out, items, preds, metrics)
    return out


def test_report_files_written(tmp_path: Path, make_pred: Any) -> None:
    out = _run(tmp_path, make_pred)
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["overall"]["key_fact_accuracy"] == 1.0
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["passed"] for r in rows] == [True, True]
    assert json.loads((out / "config.json").read_text(encoding="utf-8")) == {"mode": "local", "k": 5}
    for chart in ("metrics.png", "latency.png"):
        assert (out / "charts" / chart).read_bytes().startswith(PNG_MAGIC)


def test_markdown_tables(tmp_path: Path, make_pred: Any) -> None:
    md = (_run(tmp_path, make_pred) / "report.md").read_text(encoding="utf-8")
    assert "| key_fact_accuracy | 100.0% |" in md
    assert "| factoid | 1 |" in md and "| unanswerable | 1 |" in md
    assert "![metrics](charts/metrics.png)" in md
    assert "| x1 | factoid |" in md and "PASS" in md


def test_html_escaped_and_self_contained(tmp_path: Path, make_pred: Any) -> None:
    page = (_run(tmp_path, make_pred) / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;问题" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<style>" in page
    srcs = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_runs_chart(tmp_path: Path, make_pred: Any) -> None:
    a = _run(tmp_path, make_pred, "a", "local")
    b = _run(tmp_path, make_pred, "b", "extractive")
    c = _run(tmp_path, make_pred, "c", "local")  # same label as a: disambiguated
    out = write_runs_chart([a, b, c], tmp_path / "runs.png")
    assert out is not None and out.read_bytes().startswith(PNG_MAGIC)
    assert plot_runs({}, tmp_path / "none.png") is None


def test_fmt() -> None:
    assert fmt(None) == "–"
    assert fmt(0.1234) == "12.3%"
    assert fmt(1234.5, pct=False) == "1,234.5"
    assert fmt(True) == "yes"
