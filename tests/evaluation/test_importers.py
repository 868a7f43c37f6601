"""RGB and CRUD-RAG importers on small fixture files written by the tests."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from rag.evaluation import importers
from rag.evaluation.importers import crud_must_include, import_crud, import_rgb, rgb_answer_groups
from rag.evaluation.metrics import evidence_hit, key_fact_correct

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


def _read(path: str) -> list[dict[str, Any]]:
    return [json.loads(x) for x in Path(path).read_text(encoding="utf-8").splitlines() if x.strip()]


@pytest.fixture
def rgb_file(tmp_path: Path) -> Path:
    p = tmp_path / "zh_int.json"
    p.write_text("\n".join(json.dumps(x, ensure_ascii=False) for x in RGB_LINES) + "\n", encoding="utf-8")
    return p


def test_rgb_answer_groups_follow_checkanswer() -> None:
    assert rgb_answer_groups(["1月3日", "1月12日"]) == [["1月3日"], ["1月12日"]]
    assert rgb_answer_groups([["北京", "北京市"]]) == [["北京", "北京市"]]
    assert rgb_answer_groups([["a", "b"], "c"]) == [["a", "b"], ["c"]]
    assert rgb_answer_groups("郭帆") == [["郭帆"]]
    assert rgb_answer_groups(None) == []


def test_import_rgb(rgb_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rgb"
    summary = import_rgb(rgb_file, out)
    rows = _read(summary.dataset)
    files = sorted(p.name for p in (out / "corpus").iterdir())
    assert summary.questions == 3
    assert summary.documents == len(files) == 7  # NOISE written once
    assert summary.by_type == {"multi-passage": 1, "factoid": 2}

    multi, olympics, film = rows
    assert multi["id"] == "rgb-0" and multi["type"] == "multi-passage"
    assert multi["answer_alternatives"] == [["1月3日"], ["1月12日"]]
    assert {ev["group"] for ev in multi["evidence"]} == {0, 1}
    assert olympics["answer_alternatives"] == [["北京", "北京市"]]
    assert olympics["answer"] == "北京"
    assert film["evidence"][0]["quote"].startswith("电影《流浪地球2》由郭帆执导")

    # every quote is found in the corpus file it names, and the answers check out
    for row in rows:
        for ev in row["evidence"]:
            assert evidence_hit((out / "corpus" / ev["file"]).read_text(encoding="utf-8"), ev["quote"])
    assert key_fact_correct(multi, "宣誓在1月3日，首次会议在1月12日。") is True
    assert key_fact_correct(multi, "宣誓在1月3日。") is False
    assert key_fact_correct(olympics, "在北京市举办") is True
    assert json.loads((out / "import.json").read_text(encoding="utf-8"))["questions"] == 3


def test_import_rgb_unanswerable_share_drops_positives(rgb_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rgb"
    summary = import_rgb(rgb_file, out, unanswerable_share=1.0)
    rows = _read(summary.dataset)
    assert {r["type"] for r in rows} == {"unanswerable"}
    corpus = " ".join(p.read_text(encoding="utf-8") for p in (out / "corpus").iterdir())
    assert "郭帆执导" not in corpus and NOISE in corpus


def test_import_rgb_limit(rgb_file: Path, tmp_path: Path) -> None:
    assert import_rgb(rgb_file, tmp_path / "o", limit=1).questions == 1


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


@pytest.fixture
def crud_file(tmp_path: Path) -> Path:
    p = tmp_path / "split_merged.json"
    p.write_text(json.dumps(CRUD, ensure_ascii=False), encoding="utf-8")
    return p


def test_import_crud(crud_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "crud"
    summary = import_crud(crud_file, out)
    rows = {r["id"]: r for r in _read(summary.dataset)}
    assert set(rows) == {"crud-questanswer_1doc-a1", "crud-questanswer_1doc-a2", "crud-questanswer_2docs-b1"}
    assert summary.documents == 3  # the shared Shanghai article once

    one = rows["crud-questanswer_1doc-a1"]
    assert one["type"] == "factoid" and one["must_include"] == ["500万元"]
    assert one["evidence"][0]["quote"] == "上海市体育局联合美团、大众点评发放总额500万元的体育消费券。"
    assert rows["crud-questanswer_1doc-a2"]["type"] == "unanswerable"

    two = rows["crud-questanswer_2docs-b1"]
    assert two["type"] == "multi-passage" and two["must_include"] == ["500万元"]
    assert [ev["group"] for ev in two["evidence"]] == [0, 1]
    assert "惠民运动券" in two["evidence"][1]["quote"]
    for ev in two["evidence"]:
        assert evidence_hit((out / "corpus" / ev["file"]).read_text(encoding="utf-8"), ev["quote"])


def test_import_crud_tasks_limit_and_list_questions(tmp_path: Path) -> None:
    data = {"questanswer_1doc": [{"ID": "z", "questions": ["问一？", "问二？"], "answers": ["答一", "答二"],
                                   "news1": "答一出现在这里。答二也在这里。"}]}
    p = tmp_path / "c.json"
    p.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    s = import_crud(p, tmp_path / "o", limit=1)
    rows = _read(s.dataset)
    assert [r["id"] for r in rows] == ["crud-questanswer_1doc-z-0"]
    with pytest.raises(ValueError, match="tasks not in the file"):
        import_crud(p, tmp_path / "o2", tasks=["questanswer_9docs"])


def test_crud_must_include() -> None:
    docs = ["共有19批次产品不合格，涉及金额1.5亿元。"]
    assert crud_must_include("19批次", docs) == ["19批次"]
    assert crud_must_include("抽检发现不合格产品共19批次，涉及1.5亿元，另有30家企业被约谈。", docs) == ["19批次", "1.5亿元"]
    assert crud_must_include("很长的一段描述性回答，没有任何数字也没有出现在新闻原文里。", docs) == []


def test_cli(crud_file: Path, rgb_file: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    importers.main(["crud", str(crud_file), str(tmp_path / "c")])
    assert json.loads(capsys.readouterr().out)["questions"] == 3
    importers.main(["rgb", str(rgb_file), str(tmp_path / "r"), "--limit", "2"])
    assert json.loads(capsys.readouterr().out)["questions"] == 2
