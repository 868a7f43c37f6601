"""The CRUD-RAG importer on a small fixture file written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evaluation.importers.samples import read_rows, write_crud

from rag.evaluation.importers.crud import crud_must_include, import_crud
from rag.evaluation.metrics.retrieval import evidence_hit


@pytest.fixture
def crud_file(tmp_path: Path) -> Path:
    return write_crud(tmp_path)


def test_import_crud(crud_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "crud"
    summary = import_crud(crud_file, out)
    rows = {r["id"]: r for r in read_rows(summary.dataset)}
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
    rows = read_rows(s.dataset)
    assert [r["id"] for r in rows] == ["crud-questanswer_1doc-z-0"]
    with pytest.raises(ValueError, match="tasks not in the file"):
        import_crud(p, tmp_path / "o2", tasks=["questanswer_9docs"])


def test_crud_must_include() -> None:
    docs = ["共有19批次产品不合格，涉及金额1.5亿元。"]
    assert crud_must_include("19批次", docs) == ["19批次"]
    assert crud_must_include("抽检发现不合格产品共19批次，涉及1.5亿元，另有30家企业被约谈。", docs) == ["19批次", "1.5亿元"]
    assert crud_must_include("很长的一段描述性回答，没有任何数字也没有出现在新闻原文里。", docs) == []
