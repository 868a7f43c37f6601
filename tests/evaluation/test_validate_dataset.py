"""The development benchmark set (eval/datasets/dev.jsonl) is valid against the corpus."""

from __future__ import annotations

import json
from collections import Counter

import pytest
from tests.evaluation.validator import CORPUS, DATASETS, REPO_ROOT, load_validator

DATASET = DATASETS / "dev.jsonl"

vd = load_validator()


@pytest.fixture(scope="module")
def records() -> list[dict]:
    with open(DATASET, encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def test_dev_set_has_no_problems():
    assert vd.validate(DATASET, CORPUS) == []


def test_heldout_set_is_valid_and_disjoint_from_dev(records):
    """The held-out set checks that thresholds calibrated on dev carry over."""
    heldout = REPO_ROOT / "eval" / "datasets" / "heldout.jsonl"
    assert vd.validate(heldout, CORPUS, min_total=40) == []
    rows = [json.loads(line) for line in heldout.read_text(encoding="utf-8").splitlines() if line.strip()]
    assert sum(r["type"] == "unanswerable" for r in rows) >= 10
    dev_questions = {r["question"] for r in records}
    assert not dev_questions & {r["question"] for r in rows}


def test_dev_set_counts(records):
    types = Counter(r["type"] for r in records)
    assert len(records) >= 100
    assert types["unanswerable"] >= 12
    assert types["multi-passage"] >= 8
    for t in ("factoid", "explanation", "numeric"):
        assert types[t] >= 5, t
    assert set(types) <= set(vd.VALID_TYPES)


def test_dev_set_covers_every_corpus_file(records):
    per_file = Counter(
        ev["file"] for r in records for ev in {e["file"]: e for e in r["evidence"]}.values()
    )
    corpus_files = sorted(p.name for p in CORPUS.glob("*.txt"))
    for name in corpus_files:
        assert per_file[name] >= 6, name
    # The newspaper issue (004) is by far the largest file and gets the most items.
    largest = max(corpus_files, key=lambda n: (CORPUS / n).stat().st_size)
    assert per_file[largest] == max(per_file.values())


def test_blackstone_bxpe_pair_present(records):
    bxpe = [r for r in records if "BXPE" in r["question"] and r["type"] != "unanswerable"]
    assert any("管理费" in r["question"] for r in bxpe)
    assert any("管理费" not in r["question"] for r in bxpe)


# --- the validator itself catches broken items -------------------------------------

GOOD_QUOTE = "盛景嘉成创始合伙人刘昊飞对21世纪经济报道说。"
FILE_000 = "000_ded5f9605ad5baf4.txt"


def _item(**overrides) -> dict:
    item = {
        "id": "t-001",
        "question": "盛景嘉成的创始合伙人是谁？",
        "answer": "刘昊飞。",
        "must_include": ["刘昊飞"],
        "evidence": [{"file": FILE_000, "quote": GOOD_QUOTE}],
        "type": "factoid",
    }
    item.update(overrides)
    return item


def _problems(tmp_path, items) -> list[str]:
    path = tmp_path / "ds.jsonl"
    path.write_text("\n".join(json.dumps(i, ensure_ascii=False) for i in items), encoding="utf-8")
    return vd.validate(path, CORPUS, min_total=1, min_unanswerable=0)


def test_validator_accepts_good_item_with_wrapped_whitespace(tmp_path):
    # Whitespace anywhere is ignored, as the corpus is hard-wrapped.
    spaced = "盛景嘉成创始合伙人刘昊飞对 21 世纪经济\n报道说。"
    assert _problems(tmp_path, [_item(evidence=[{"file": FILE_000, "quote": spaced}])]) == []


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"evidence": [{"file": FILE_000, "quote": "刘昊飞对21世纪经济报道说谎。"}]}, "not found"),
        ({"evidence": [{"file": "nope.txt", "quote": GOOD_QUOTE}]}, "unknown corpus file"),
        ({"evidence": [{"file": FILE_000, "quote": "盛景嘉成创始合伙人刘昊飞"}]}, "end a sentence"),
        ({"must_include": ["张驰"]}, "must_include"),
        ({"type": "trivia"}, "invalid type"),
        ({"type": "multi-passage"}, "multi-passage"),
        ({"type": "unanswerable"}, "unanswerable item has evidence"),
        ({"id": "bad id"}, "bad id"),
    ],
)
def test_validator_flags_problems(tmp_path, overrides, fragment):
    problems = _problems(tmp_path, [_item(**overrides)])
    assert any(fragment in p for p in problems), problems


def test_validator_flags_duplicate_ids_and_low_counts(tmp_path):
    path = tmp_path / "ds.jsonl"
    path.write_text(
        "\n".join(json.dumps(_item(question=q), ensure_ascii=False) for q in ("甲？", "乙？")),
        encoding="utf-8",
    )
    problems = vd.validate(path, CORPUS)
    assert any("duplicate id" in p for p in problems)
    assert any("only 2 items" in p for p in problems)
    assert any("unanswerable items" in p for p in problems)


def test_command_line_exit_codes(tmp_path):
    from typer.testing import CliRunner

    ok = CliRunner().invoke(vd.app, [str(DATASET), "--corpus", str(CORPUS)])
    assert ok.exit_code == 0 and "OK: no problems" in ok.output
    bad = tmp_path / "ds.jsonl"
    bad.write_text(json.dumps(_item(type="trivia"), ensure_ascii=False), encoding="utf-8")
    failed = CliRunner().invoke(vd.app, [str(bad), "--corpus", str(CORPUS), "--min-total", "1"])
    assert failed.exit_code == 1 and "invalid type" in failed.output


# --- the split fields, follow-ups, near misses, tables, several files ---------------

FILE_003 = "003_a725a1633d20dd26.txt"
FILE_004 = "004_c5b0c1dfd4c407be.txt"
TABLE_ROW = "2023年-3.7 -6.97 -11.38 -13.54 -19.41 -11.73 -11.24 14.92"  # A44, the index table


def _unanswerable(**overrides) -> dict:
    item = {"id": "t-002", "question": "盛景嘉成管理多少基金？", "answer": "", "must_include": [], "evidence": [],
            "type": "unanswerable", "article": "A00", "split": "tune", "near_miss": "not_stated"}
    item.update(overrides)
    return item


def test_validator_accepts_the_new_fields(tmp_path):
    history = [{"role": "user", "content": "盛景嘉成的创始合伙人是谁？"}, {"role": "assistant", "content": "刘昊飞。"}]
    table = _item(id="t-003", question="2023年沪深300跌了多少？", answer="-11.38%", must_include=["-11.38"],
                  evidence=[{"file": FILE_004, "quote": TABLE_ROW}], type="numeric",
                  article="A44", split="tune", table=True)
    items = [_item(article="A00", split="tune", history=history), _unanswerable(), table]
    assert _problems(tmp_path, items) == []


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"article": "A99"}, "not in split.json"),
        ({"article": "A00", "split": "test"}, "split.json puts A00 in 'tune'"),
        ({"article": "A00", "split": "dev"}, "split must be one of"),
        ({"article": "A01", "split": "tune"}, "not found in the cleaned text of A01"),  # the quote is in A00
        ({"article": "A00", "articles": ["A00", "A04"]}, "different splits"),  # A04 is test
        ({"article": "A00", "articles": ["A01", "A02"]}, "does not include article"),
        ({"history": [{"role": "user"}]}, "history must be"),
        ({"history": [{"role": "system", "content": "x"}]}, "history must be"),
        ({"near_miss": "not_stated"}, "near_miss on an answerable item"),
        ({"table": "yes"}, "table must be true or false"),
        ({"evidence": [{"file": FILE_004, "quote": TABLE_ROW}]}, "end a sentence"),  # a table row, not marked
        # A caption the cleaner drops: in the raw file, never in a retrieved passage.
        ({"evidence": [{"file": FILE_003, "quote": "图为青岛虚拟现实共享中心。"}]}, "not found in the cleaned text"),
    ],
)
def test_validator_flags_bad_new_fields(tmp_path, overrides, fragment):
    problems = _problems(tmp_path, [_item(**overrides)])
    assert any(fragment in p for p in problems), problems


def test_near_miss_kind_must_be_known(tmp_path):
    problems = _problems(tmp_path, [_unanswerable(near_miss="other_company")])
    assert any("near_miss must be one of" in p for p in problems), problems


def test_require_split_makes_article_and_split_mandatory(tmp_path):
    path = tmp_path / "ds.jsonl"
    path.write_text(json.dumps(_item(), ensure_ascii=False), encoding="utf-8")
    assert vd.validate(path, CORPUS, min_total=1, min_unanswerable=0) == []
    problems = vd.validate(path, CORPUS, min_total=1, min_unanswerable=0, require_split=True)
    assert any("missing field(s) ['article', 'split']" in p for p in problems), problems


def test_several_files_share_one_id_space(tmp_path):
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    a.write_text(json.dumps(_item(), ensure_ascii=False), encoding="utf-8")
    b.write_text(json.dumps(_item(question="另一个问题？"), ensure_ascii=False), encoding="utf-8")
    problems = vd.validate_many([a, b], CORPUS)
    assert problems == ["id 't-001' in several files: ['a.jsonl', 'b.jsonl']"]
    b.write_text(json.dumps(_item(id="t-009", question="另一个问题？"), ensure_ascii=False), encoding="utf-8")
    assert vd.validate_many([a, b], CORPUS) == []
    assert vd.validate_many([a, b], CORPUS, min_total=3) == ["only 2 items (need >= 3)"]


def test_command_line_several_files_and_require_split(tmp_path):
    from typer.testing import CliRunner

    heldout = DATASETS / "heldout.jsonl"
    ok = CliRunner().invoke(vd.app, [str(DATASET), str(heldout), "--require-split"])
    assert ok.exit_code == 0, ok.output
    assert "by split:" in ok.output and "unanswerable by near miss:" in ok.output
    bare = tmp_path / "ds.jsonl"
    bare.write_text(json.dumps(_item(), ensure_ascii=False), encoding="utf-8")
    failed = CliRunner().invoke(vd.app, [str(DATASET), str(bare), "--require-split"])
    assert failed.exit_code == 1 and "ds.jsonl: t-001 (line 1): missing field(s)" in failed.output
