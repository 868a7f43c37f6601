"""The evidence model file is what eval/train_evidence_ranker.py learns from the tune split
of the eval sets on the bundled corpus: regenerated here on the real index and compared."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.answer.ranker import load_model
from rag.config import PROJECT_ROOT
from rag.evaluation.dataset import load_datasets
from rag.evaluation.ranker_training import collect, dataset_digest, gate_rows, holds_evidence, sentence_rows, train

SETS = [PROJECT_ROOT / "eval" / "datasets" / name for name in ("dev.jsonl", "heldout.jsonl", "fresh.jsonl")]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def collected(service):
    snap = service.snapshot()
    data = collect(service, load_datasets(SETS), service.settings.top_k)
    return data, snap.idf, len(snap.index.chunks)


def _digest() -> dict[str, str]:
    return {str(Path(k).relative_to(PROJECT_ROOT)): v for k, v in dataset_digest(SETS).items()}


def test_bundled_model_was_trained_on_todays_datasets() -> None:
    assert load_model().trained_on["datasets"] == _digest(), "re-run eval/train_evidence_ranker.py"


def test_training_on_the_real_index_reproduces_the_bundled_model(collected) -> None:
    data, idf, n_chunks = collected
    model, report = train(data, idf, n_chunks, _digest())
    bundled = load_model()
    # Vectors may differ in their last bits between machines and builds, so the two models
    # are compared by what they say: the probabilities they give the same tune rows.
    tune = [q for q in data if q.split == "tune"]
    x, _, _ = sentence_rows(tune, idf)
    assert np.abs(model.probabilities(x) - bundled.probabilities(x)).mean() < 0.01
    gx, _, _ = gate_rows(tune, model, idf, n_chunks)
    assert np.abs(model.gate.probabilities(gx) - bundled.gate.probabilities(gx)).mean() < 0.03
    for mode, threshold in bundled.thresholds.items():
        assert model.thresholds[mode] == pytest.approx(threshold, abs=0.05)
    # Test rows are scored, never fitted: the report has both, and the ranker beats chance.
    assert report["test_parts"] > 100 and report["test_sentence_top1"] > 0.5


def test_test_rows_never_reach_the_fit(collected) -> None:
    data, idf, n_chunks = collected
    tune_only = [q for q in data if q.split == "tune"]
    assert 0 < len(tune_only) < len(data)
    everything, _ = train(data, idf, n_chunks, {})
    tuned, _ = train(tune_only, idf, n_chunks, {})
    assert np.array_equal(everything.sentence.weights, tuned.sentence.weights)
    assert np.array_equal(everything.gate.weights, tuned.gate.weights)
    assert everything.thresholds == tuned.thresholds


def test_a_sentence_holds_evidence_by_a_long_shared_piece() -> None:
    quote = "黑石BXPE基金的管理费率为1.25%"
    assert holds_evidence("据介绍，黑石BXPE基金的管理费率为1.25%，业绩报酬为12.5%。", [quote])
    assert not holds_evidence("黑石BXPE基金面向富裕个人投资者。", [quote])
