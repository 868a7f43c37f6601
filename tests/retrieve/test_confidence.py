"""The refusal signal: raw best scores against the calibrated thresholds."""

from __future__ import annotations

from rag.retrieve.confidence import judge_confidence


def test_either_list_clearing_its_threshold_is_enough():
    both = judge_confidence({1: 0.9, 2: 0.7}, {2: 8.0}, min_dense=0.86, min_bm25=6.0)
    assert (both.dense, both.bm25, both.relevant) == (0.9, 8.0, True)
    assert judge_confidence({1: 0.86}, {1: 1.0}, 0.86, 6.0).relevant is True  # the threshold itself counts
    assert judge_confidence({1: 0.5}, {1: 6.0}, 0.86, 6.0).relevant is True
    weak = judge_confidence({1: 0.85}, {1: 5.9}, 0.86, 6.0)
    assert (weak.dense, weak.bm25, weak.relevant) == (0.85, 5.9, False)


def test_no_candidates_is_not_relevant():
    none = judge_confidence({}, {}, 0.86, 6.0)
    assert (none.dense, none.bm25, none.relevant) == (0.0, 0.0, False)
    assert none.to_dict() == {"dense": 0.0, "bm25": 0.0, "relevant": False}
