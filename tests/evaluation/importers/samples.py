"""Small RGB and CRUD-RAG files in the benchmarks' own formats, shared by the importer
and CLI tests (imported, so not a conftest)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

NOISE = "狄志远在宣誓仪式后接受传媒访问，表示早前已练习多次。"
RGB_LINES = [
    {   # zh_int style: two required answers, positives grouped per answer
        "id": 0,
        "query": "第七届香港立法会议员宣誓仪式及首次会议的时间",
        "answer": ["1月3日", "1月12日"],
        "positive": [
            ["据报道，香港第七届立法会议员的宣誓仪式将在2022年1月3日上午11时在立法会会议厅举行。",
             "1月3日上午，90位新当选议员宣誓。"],
            ["行政长官已指明2022年1月12日上午11时为第七届立法会的首次会议日期及时间。"],
        ],
        "negative": [NOISE],
    },
    {   # zh style: one required answer with alternatives
        "id": 1,
        "query": "2022年冬奥会在哪里举办",
        "answer": [["北京", "北京市"]],
        "positive": ["第二十四届冬季奥林匹克运动会于2022年2月在北京市举办，这是北京第一次举办冬奥会。"],
        "negative": ["冬奥会是世界规模最大的冬季综合性运动会。", NOISE],
    },
    {
        "id": 2,
        "query": "《流浪地球2》的导演是谁",
        "answer": "郭帆",
        "positive": ["电影《流浪地球2》由郭帆执导，于2023年1月22日上映。"],
        "negative": [],
    },
]

CRUD = {
    "event_summary": [{"event": "不导入", "summary": "x", "text": "y"}],
    "questanswer_1doc": [
        {
            "ID": "a1",
            "event": "上海发放体育消费券",
            "questions": "上海市体育局联合美团发放的体育消费券总额是多少？",
            "answers": "500万元",
            "news1": "新华社上海电。上海市体育局联合美团、大众点评发放总额500万元的体育消费券。覆盖3000多家本地运动门店。",
        },
        {"ID": "a2", "questions": "这个问题无法回答吗？", "answers": "无法推断", "news1": "一条无关的新闻。"},
    ],
    "questanswer_2docs": [
        {
            "ID": "b1",
            "questions": "上海和成都分别发放了什么体育消费券？",
            "answers": "上海发放了总额500万元的体育消费券，成都发放了各类体育消费券和惠民运动券。",
            "news1": "新华社上海电。上海市体育局联合美团、大众点评发放总额500万元的体育消费券。覆盖3000多家本地运动门店。",
            "news2": "成都市体育局利用大运会契机，发放各类体育消费券和惠民运动券。还将举办大型体育展会活动。",
        }
    ],
    "questanswer_3docs": [],
}


def write_rgb(folder: Path) -> Path:
    """RGB_LINES as a ``zh_int.json`` (JSON Lines, as RGB ships it)."""
    p = folder / "zh_int.json"
    p.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in RGB_LINES) + "\n", encoding="utf-8")
    return p


def write_crud(folder: Path) -> Path:
    """CRUD as a ``split_merged.json``."""
    p = folder / "split_merged.json"
    p.write_text(json.dumps(CRUD, ensure_ascii=False), encoding="utf-8")
    return p


def read_rows(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a written dataset.jsonl."""
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]
