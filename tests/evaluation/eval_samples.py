"""Passages and builders shared by the evaluation tests (imported, so not a conftest)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rag.evaluation.metrics import compute_metrics
from rag.evaluation.report import write_report

# Three passages as the retriever would return them (PDF-style spacing included).
PASSAGE_BLACKSTONE = (
    "黑石发布的今年二季度业绩显示，当季 LP 的资金净流入额为 170 亿美元，较去年同期减少约 77%。"
    "事实上，不只是黑石，其他美国大型 PE 基金都在悄悄调降新发基金管理费以争取 LP 资金。"
)
PASSAGE_MEETING = (
    "中央经济工作会议 12 月 11 日至 12 日在北京举行。会议提出，必须坚持深化供给侧结构性改革"
    "和着力扩大有效需求协同发力。稳定和扩大传统消费，提振新能源汽车、电子产品等大宗消费。"
)
PASSAGE_HK = (
    "毕马威报告指出，今年前三季度香港 IPO 市场仅有 44 家企业 IPO 上市（募资总额为246 亿港元）。"
    "但 9月以来，港股 IPO 节奏明显加快。截至 2023 年 10 月 10 日，正在“排队”的港股 IPO 已超过 110 家。"
)


def passage(text: str, file: str = "doc.txt") -> dict[str, Any]:
    return {"text": text, "file": file, "title": "", "section": "", "score": 0.5, "chunk_id": file}


PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def write_run(tmp_path: Path, make_pred: Any, name: str = "run", mode: str = "local") -> Path:
    """A two-question run folder (one answer with markup in it, one refusal)."""
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
