"""The news answerability set (eval/datasets/news.jsonl) against its knowledge base (issue 12 §2).

Schema, counts, the split by cluster and the KB manifest are checked always; the
quotes and the absence of every held-out fact from the KB need the CRUD-RAG corpus
(``../shared/corpora``, never in git) and are skipped on a clone without it.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from tests.evaluation.validator import DATASETS, load_validator

from rag.evaluation import news

DATASET = DATASETS / "news.jsonl"
HAS_CORPUS = news.DEFAULT_CRUD_FILE.is_file()
needs_corpus = pytest.mark.skipif(not HAS_CORPUS, reason=f"crud news corpus not present: {news.DEFAULT_CRUD_FILE}")

vd = load_validator()


@pytest.fixture(scope="module")
def rows() -> list[dict]:
    return [json.loads(line) for line in DATASET.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="module")
def manifest() -> news.KbManifest:
    return news.load_manifest()


def test_schema_and_manifest_checks_pass_without_the_corpus(tmp_path):
    # A missing corpus file path: only what needs no corpus text is checked.
    problems = vd.validate_many([DATASET], require_split=True, crud_file=tmp_path / "absent.jsonl.xz")
    assert problems == []


def test_counts_types_and_near_miss_kinds(rows):
    kinds = Counter(r.get("near_miss") for r in rows if r["type"] == "unanswerable")
    answerable = [r for r in rows if r["type"] != "unanswerable"]
    assert sum(kinds.values()) >= 100
    assert len(answerable) >= 60
    assert set(kinds) == set(vd.NEAR_MISS_KINDS)
    assert all(r["corpus"] == news.CORPUS_NAME for r in rows)


def test_split_by_cluster_is_disjoint_and_balanced(rows, manifest):
    sides: dict[str, set[str]] = {}
    for r in rows:
        sides.setdefault(r["cluster"], set()).add(r["split"])
    assert all(len(s) == 1 for s in sides.values()), sides
    per_split = Counter(r["split"] for r in rows)
    assert abs(per_split["tune"] - per_split["test"]) <= 0.2 * len(rows)
    assert {c.split for c in manifest.clusters.values()} == {"tune", "test"}


def test_questions_come_from_the_right_side_of_the_kb(rows, manifest):
    kb, held = set(manifest.kb_ids), set(manifest.held_out_ids)
    assert not kb & held
    for r in rows:
        assert r["article"] in (kb if r["type"] != "unanswerable" else held), r["id"]


def test_manifest_checks_catch_a_wrong_side_and_a_wrong_split(rows, manifest):
    answerable = dict(next(r for r in rows if r["type"] != "unanswerable"), _line=1)
    unanswerable = dict(next(r for r in rows if r["type"] == "unanswerable"), _line=2)
    answerable["article"] = manifest.clusters[answerable["cluster"]].held_out[0]
    unanswerable["split"] = "tune" if unanswerable["split"] == "test" else "test"
    problems = news.check_rows_against_manifest([answerable, unanswerable], manifest)
    assert any("knowledge base" in p for p in problems)
    assert any("split" in p for p in problems)


@needs_corpus
def test_quotes_are_in_the_articles_and_held_out_facts_absent_from_the_kb():
    assert vd.validate_many([DATASET], require_split=True) == []


@needs_corpus
def test_corpus_checks_catch_a_changed_quote_and_a_fact_left_in_the_kb(rows, manifest):
    answerable = dict(next(r for r in rows if r["type"] != "unanswerable"), _line=1)
    unanswerable = dict(next(r for r in rows if r["type"] == "unanswerable"), _line=2)
    answerable["evidence"] = [{"file": news.KB_FILE_NAME, "quote": answerable["evidence"][0]["quote"] + "虚构的尾巴。"}]
    unanswerable["absent"] = ["上半年"]  # in the held-out article and in many KB articles
    articles = news.read_crud(ids=set(manifest.kb_ids) | {answerable["article"], unanswerable["article"]})
    problems = news.check_rows_against_corpus([answerable, unanswerable], manifest, articles)
    assert any("quote not in the cleaned text" in p for p in problems)
    assert any("occurs in" in p and "KB article" in p for p in problems)
