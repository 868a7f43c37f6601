"""The development benchmark set (eval/datasets/dev.jsonl) is valid against the corpus."""

from __future__ import annotations

import importlib.util
import json
from collections import Counter
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DATASET = REPO_ROOT / "eval" / "datasets" / "dev.jsonl"
CORPUS = REPO_ROOT / "data" / "corpus"


def _load_validator():
    # eval/ is not a package; load the module straight from its file.
    path = REPO_ROOT / "eval" / "validate_dataset.py"
    spec = importlib.util.spec_from_file_location("eval_validate_dataset", path)
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


vd = _load_validator()


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
