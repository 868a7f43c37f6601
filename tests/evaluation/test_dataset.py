"""Reading dataset files and their rows (rag.evaluation.dataset), and the bundled datasets themselves.

The bundled sets (eval/datasets: dev, heldout and, once merged, fresh) are checked
as one set against the tune/test split: valid with every row naming its article and
split, no article on both sides, every evidence quote in the cleaned text of its
article (what the product ingests, read here straight from the ingest code), and the
size issue 12 asks for once the fresh questions are in.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path

import pytest
from tests.evaluation.validator import CORPUS, DATASETS, load_validator

from rag.evaluation.dataset import (
    answer_alternatives,
    evidence_groups,
    evidence_quotes,
    is_answerable,
    item_split,
    load_dataset,
    load_datasets,
    must_include,
    near_miss,
)
from rag.ingest.pipeline import articles_from_file

DATASET_FILES = [p for p in (DATASETS / n for n in ("dev.jsonl", "heldout.jsonl", "fresh.jsonl")) if p.exists()]
FRESH = DATASETS / "fresh.jsonl"
NEAR_MISS_KINDS = ("sibling_entity", "other_period", "other_measure", "not_stated")


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


def test_several_files_one_id_space_and_a_split_filter(tmp_path: Path) -> None:
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text('{"id": "1", "question": "a", "split": "tune"}\n{"id": "2", "question": "b"}\n', encoding="utf-8")
    b.write_text('{"id": "3", "question": "c", "split": "test"}\n', encoding="utf-8")
    assert [r["id"] for r in load_datasets([a, b])] == ["1", "2", "3"]
    assert [r["id"] for r in load_datasets([a, b], "test")] == ["3"]
    assert [r["id"] for r in load_datasets(a, "tune")] == ["1"]  # no split: in neither side
    with pytest.raises(ValueError, match="split must be one of"):
        load_datasets(a, "dev")
    b.write_text('{"id": "1", "question": "c"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match="also in"):
        load_datasets([a, b])


def test_split_and_near_miss_accessors() -> None:
    assert item_split({"split": "test"}) == "test" and item_split({}) is None
    assert near_miss({"type": "unanswerable", "near_miss": "other_period"}) == "other_period"
    assert near_miss({"type": "unanswerable"}) == "(unlabelled)"
    assert near_miss({"type": "factoid"}) is None


# --- the bundled datasets -------------------------------------------------------

@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return load_datasets(DATASET_FILES)


def _squash(text: str) -> str:
    """Without whitespace: the corpus is hard-wrapped and full of stray spaces."""
    return re.sub(r"\s+", "", text)


def _articles(row: dict) -> list[str]:
    return list(dict.fromkeys([row["article"], *row.get("articles", [])]))


def test_bundled_datasets_are_valid_with_their_split() -> None:
    assert load_validator().validate_many(DATASET_FILES, CORPUS, require_split=True) == []


def test_no_article_in_both_splits(rows: list[dict]) -> None:
    sides: dict[str, set[str]] = defaultdict(set)
    for row in rows:
        for article in _articles(row):
            sides[article].add(row["split"])
    assert {a: s for a, s in sides.items() if len(s) > 1} == {}
    split = {a["article"]: a["split"] for a in json.loads((DATASETS / "split.json").read_text("utf-8"))["articles"]}
    assert all(split[a] == next(iter(s)) for a, s in sides.items())


def test_every_quote_is_in_the_cleaned_text_of_its_article(rows: list[dict]) -> None:
    entries = json.loads((DATASETS / "split.json").read_text(encoding="utf-8"))["articles"]
    cleaned = {f: articles_from_file(CORPUS / f, f) for f in {e["file"] for e in entries}}
    text = {e["article"]: _squash(f"{a.title}{a.text}") for e in entries for a in [cleaned[e["file"]][e["index"]]]}
    missing = [
        (row["id"], ev["quote"][:30])
        for row in rows
        for ev in row["evidence"]
        if not any(_squash(ev["quote"]) in text[a] for a in _articles(row))
    ]
    assert missing == []


@pytest.mark.skipif(not FRESH.exists(), reason="fresh.jsonl not merged yet")
def test_datasets_are_large_enough_to_tell_generalisation_from_fitting(rows: list[dict]) -> None:
    articles = {a for row in rows for a in _articles(row)}
    unanswerable = [row for row in rows if not is_answerable(row)]
    assert len(rows) >= 400 and len(articles) >= 80 and len(unanswerable) >= 60
    assert {row["near_miss"] for row in unanswerable} == set(NEAR_MISS_KINDS)
    assert {row["split"] for row in rows} == {"tune", "test"}
    assert any(row.get("history") for row in rows) and any(row.get("table") for row in rows)
    assert {ev["file"] for row in rows for ev in row["evidence"]} == {p.name for p in CORPUS.glob("*.txt")}
