"""Report files: contents, escaping, self-contained HTML, charts."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tests.evaluation.eval_samples import PNG_MAGIC, write_run

from rag.evaluation.metrics import compute_metrics
from rag.evaluation.report import write_report


def test_report_files_written(tmp_path: Path, make_pred: Any) -> None:
    out = write_run(tmp_path, make_pred)
    m = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
    assert m["overall"]["key_fact_accuracy"] == 1.0
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    assert [r["passed"] for r in rows] == [True, True]
    assert json.loads((out / "config.json").read_text(encoding="utf-8")) == {"mode": "local", "k": 5}
    for chart in ("metrics.png", "latency.png"):
        assert (out / "charts" / chart).read_bytes().startswith(PNG_MAGIC)


def test_markdown_tables(tmp_path: Path, make_pred: Any) -> None:
    md = (write_run(tmp_path, make_pred) / "report.md").read_text(encoding="utf-8")
    assert "| key_fact_accuracy | 100.0% |" in md
    assert "| factoid | 1 |" in md and "| unanswerable | 1 |" in md
    assert "![metrics](charts/metrics.png)" in md
    assert "| x1 | factoid |" in md and "PASS" in md
    assert "- config: `{\"k\": 5, \"mode\": \"local\"}`" in md
    assert "| x2 | unanswerable | 火星？ |  | 资料中没有相关信息。 |  | – | – | – | yes | PASS |" in md
    assert "| [1] f1.txt | 1/1 | 1 | yes | no | PASS |" in md  # the cited passage holds the evidence
    assert "| citation support (checker rule) | 100.0% |" in md and "| citation_precision |" not in md
    assert "| evidence_citation_precision | 100.0% |" in md
    assert "## Per split" not in md  # no row has a split


def test_html_escaped_and_self_contained(tmp_path: Path, make_pred: Any) -> None:
    page = (write_run(tmp_path, make_pred) / "report.html").read_text(encoding="utf-8")
    assert "<script>" not in page and "&lt;script&gt;alert(1)&lt;/script&gt;问题" in page
    assert "<img src=x" not in page and "&lt;img src=x onerror=alert(1)&gt;" in page
    assert "<style>" in page
    assert "<td class=\"ans\">黑石净流入170亿美元[1]。&lt;img" in page
    assert ">PASS</td>" in page and "<tr class=\"pass\">" in page
    srcs = re.findall(r"""(?:src|href)=["']([^"']+)""", page)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)


def test_pipes_and_newlines_do_not_break_markdown_rows(tmp_path: Path, make_pred: Any) -> None:
    items = [{"id": "p", "type": "factoid", "question": "a|b\nc", "must_include": ["x"]}]
    preds = [make_pred("第一行\n第二行 | 竖线")]
    write_report(tmp_path, items, preds, compute_metrics(items, preds))
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "| p | factoid | a\\|b c |  | 第一行 第二行 \\| 竖线 |" in md


def test_error_rows_show_the_error(tmp_path: Path) -> None:
    items = [{"id": "e", "type": "factoid", "question": "q", "must_include": ["x"]}]
    preds = [{"error": "RuntimeError: <down>"}]
    write_report(tmp_path, items, preds, compute_metrics(items, preds))
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert '<span class="small">RuntimeError: &lt;down&gt;</span>' in page and ">FAIL</td>" in page
    assert "| e | factoid | q |  | RuntimeError: <down> |" in (tmp_path / "report.md").read_text(encoding="utf-8")


def test_near_miss_kinds_and_splits_have_rows(tmp_path: Path, make_pred: Any) -> None:
    items = [
        {"id": "a", "type": "factoid", "question": "q", "must_include": ["x"], "split": "tune"},
        {"id": "b", "type": "unanswerable", "question": "q2", "near_miss": "sibling_entity", "split": "test"},
        {"id": "c", "type": "unanswerable", "question": "q3", "near_miss": "other_period", "split": "test"},
    ]
    preds = [make_pred("x"), make_pred("抱歉", refused=True), make_pred("编的", refused=False)]
    metrics = compute_metrics(items, preds)
    metrics["run"] = {"dataset": "d.jsonl", "split": "test", "config": {"mode": "local", "split": "test"}}
    write_report(tmp_path, items, preds, metrics)
    md = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "- dataset: `d.jsonl`, split `test`" in md
    assert "| unanswerable | 2 |" in md
    assert "| unanswerable · other_period | 1 |" in md and "| unanswerable · sibling_entity | 1 |" in md
    assert "## Per split" in md and "| test | 2 |" in md and "| tune | 1 |" in md
    assert "| b | unanswerable · sibling_entity | q2 |" in md
    page = (tmp_path / "report.html").read_text(encoding="utf-8")
    assert "<h2>Per split</h2>" in page and "<td>unanswerable · other_period</td>" in page
