"""The RGB importer on a small fixture file written by the test."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.evaluation.importers.samples import NOISE, read_rows, write_rgb

from rag.evaluation.importers.rgb import import_rgb, rgb_answer_groups
from rag.evaluation.metrics.answers import key_fact_correct
from rag.evaluation.metrics.retrieval import evidence_hit


@pytest.fixture
def rgb_file(tmp_path: Path) -> Path:
    return write_rgb(tmp_path)


def test_rgb_answer_groups_follow_checkanswer() -> None:
    assert rgb_answer_groups(["1月3日", "1月12日"]) == [["1月3日"], ["1月12日"]]
    assert rgb_answer_groups([["北京", "北京市"]]) == [["北京", "北京市"]]
    assert rgb_answer_groups([["a", "b"], "c"]) == [["a", "b"], ["c"]]
    assert rgb_answer_groups("郭帆") == [["郭帆"]]
    assert rgb_answer_groups(None) == []


def test_import_rgb(rgb_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "rgb"
    summary = import_rgb(rgb_file, out)
    rows = read_rows(summary.dataset)
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
    rows = read_rows(summary.dataset)
    assert {r["type"] for r in rows} == {"unanswerable"}
    corpus = " ".join(p.read_text(encoding="utf-8") for p in (out / "corpus").iterdir())
    assert "郭帆执导" not in corpus and NOISE in corpus


def test_import_rgb_limit(rgb_file: Path, tmp_path: Path) -> None:
    assert import_rgb(rgb_file, tmp_path / "o", limit=1).questions == 1
