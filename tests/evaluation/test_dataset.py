"""Reading a dataset file and its rows (rag.evaluation.dataset)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.evaluation.dataset import (
    answer_alternatives,
    evidence_groups,
    evidence_quotes,
    is_answerable,
    load_dataset,
    must_include,
)


def test_load_dataset_validation(tmp_path: Path) -> None:
    p = tmp_path / "d.jsonl"
    p.write_text('{"id": 1, "question": "a"}\n{"id": "1", "question": "b"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="duplicate"):
        load_dataset(p)
    p.write_text('{"question": "a"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="'id'"):
        load_dataset(p)
    p.write_text("{not json\n", encoding="utf-8")
    with pytest.raises(ValueError, match="invalid JSON"):
        load_dataset(p)
    p.write_text('{"id": 7, "question": "a"}\n\n', encoding="utf-8")
    assert load_dataset(p) == [{"id": "7", "question": "a"}]


def test_evidence_without_group_each_its_own_group() -> None:
    item = {"evidence": [{"quote": "a"}, {"quote": "b"}, {"quote": "c", "group": 1}, {"quote": "d", "group": 1}]}
    assert evidence_groups(item) == [["a"], ["b"], ["c", "d"]]


def test_row_accessors_skip_empty_entries() -> None:
    item = {
        "type": "factoid",
        "evidence": [{"quote": " "}, "plain quote", {"file": "x"}],
        "must_include": ["北京", "", 3],
        "answer_alternatives": [["1月3日", ""], []],
    }
    assert evidence_quotes(item) == ["plain quote"]
    assert must_include(item) == ["北京"]
    assert answer_alternatives(item) == [["1月3日"]]
    assert is_answerable(item) and not is_answerable({"type": "unanswerable"})
