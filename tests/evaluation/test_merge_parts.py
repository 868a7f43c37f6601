"""eval/merge_parts.py: part files become one sorted, validated dataset, or nothing is written."""

from __future__ import annotations

import json
from pathlib import Path

from tests.evaluation.validator import load_eval_script
from typer.testing import CliRunner

mp = load_eval_script("merge_parts")

ROW = {
    "id": "fr-1000",
    "question": "盛景嘉成的创始合伙人是谁？",
    "answer": "刘昊飞。",
    "must_include": ["刘昊飞"],
    "evidence": [{"file": "000_ded5f9605ad5baf4.txt", "quote": "盛景嘉成创始合伙人刘昊飞对21世纪经济报道说。"}],
    "type": "factoid",
    "article": "A00",
    "split": "tune",
}
NEAR_MISS = {"id": "fr-999", "question": "盛景嘉成管理多少基金？", "answer": "", "must_include": [], "evidence": [],
             "split": "tune", "type": "unanswerable", "article": "A00", "near_miss": "not_stated"}


def _parts(tmp_path: Path, *files: list[dict]) -> Path:
    parts = tmp_path / "parts"
    parts.mkdir()
    for n, rows in enumerate(files):
        (parts / f"p{n}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), "utf-8")
    return parts


def test_merge_sorts_by_id_in_schema_order(tmp_path: Path) -> None:
    out = tmp_path / "fresh.jsonl"
    assert mp.merge(_parts(tmp_path, [ROW], [NEAR_MISS]), out, others=()) == []
    rows = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [r["id"] for r in rows] == ["fr-999", "fr-1000"]  # natural order, not string order
    assert list(rows[0]) == ["id", "question", "answer", "must_include", "evidence", "type", "article", "split",
                             "near_miss"]


def test_a_merge_with_problems_writes_nothing(tmp_path: Path) -> None:
    out = tmp_path / "fresh.jsonl"
    parts = _parts(tmp_path, [ROW], [dict(ROW, question="另一问？")])  # the same id twice
    result = CliRunner().invoke(mp.app, ["--parts", str(parts), "--out", str(out), "--with", str(parts / "p0.jsonl")])
    assert result.exit_code == 1 and "duplicate id 'fr-1000'" in result.output
    assert not out.exists() and not list(tmp_path.glob("*.tmp"))
