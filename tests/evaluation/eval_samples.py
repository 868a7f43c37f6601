"""Passages and builders shared by the evaluation tests (imported, so not a conftest)."""

from __future__ import annotations

from typing import Any

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
