"""Rank fusion on hand-made candidate lists."""

from __future__ import annotations

import pytest

from rag.retrieve.fusion import reciprocal_rank_fusion, round_robin, weighted_fusion

DENSE = {1: 0.91, 2: 0.88, 3: 0.86, 5: 0.80}
BM25 = {2: 14.0, 4: 12.5, 1: 3.0, 6: 2.0}


def _best(fused: dict[int, float]) -> int:
    return max(fused, key=fused.get)


def test_rrf_prefers_a_document_strong_in_both_lists():
    fused = reciprocal_rank_fusion([DENSE, BM25], k=60)
    assert set(fused) == set(DENSE) | set(BM25)
    assert _best(fused) == 2  # 2nd in dense, 1st in BM25 beats 1st in dense, 3rd in BM25
    assert fused[2] == pytest.approx(1 / 62 + 1 / 61)
    assert fused[1] == pytest.approx(1 / 61 + 1 / 63)
    assert fused[4] == pytest.approx(1 / 62)
    # a document in both lists beats any document found by one list only
    assert min(fused[1], fused[2]) > max(fused[r] for r in (3, 4, 5, 6))


def test_weighted_prefers_a_document_strong_in_both_lists():
    fused = weighted_fusion(DENSE, BM25, dense_weight=0.5)
    assert set(fused) == set(DENSE) | set(BM25)
    assert _best(fused) == 2
    assert all(0.0 <= v <= 1.0 for v in fused.values())
    # 2 is max-normalised to 1 in BM25 and high in dense
    assert fused[2] == pytest.approx(0.5 * (0.88 - 0.80) / (0.91 - 0.80) + 0.5 * 1.0)


def test_weighted_extremes_follow_one_list():
    only_dense = weighted_fusion(DENSE, BM25, dense_weight=1.0)
    assert sorted(DENSE, key=lambda r: -DENSE[r]) == sorted(DENSE, key=lambda r: -only_dense[r])
    assert all(only_dense[r] == 0.0 for r in set(BM25) - set(DENSE))
    only_bm25 = weighted_fusion(DENSE, BM25, dense_weight=0.0)
    assert _best(only_bm25) == 2
    assert all(only_bm25[r] == 0.0 for r in set(DENSE) - set(BM25))


@pytest.mark.parametrize("scale,shift", [(100.0, 0.0), (0.01, 5.0), (3.0, -2.0)])
def test_fusion_is_scale_invariant(scale: float, shift: float):
    bm25_rescaled = {row: score * scale + shift for row, score in BM25.items()}
    dense_rescaled = {row: score * scale + shift for row, score in DENSE.items()}
    assert reciprocal_rank_fusion([DENSE, bm25_rescaled]) == reciprocal_rank_fusion([DENSE, BM25])
    base = weighted_fusion(DENSE, BM25, 0.4)
    for fused in (weighted_fusion(DENSE, bm25_rescaled, 0.4), weighted_fusion(dense_rescaled, BM25, 0.4)):
        assert fused.keys() == base.keys()
        for row in base:
            assert fused[row] == pytest.approx(base[row])


def test_fusion_of_empty_lists():
    assert reciprocal_rank_fusion([{}, {}]) == {}
    assert weighted_fusion({}, {}) == {}
    assert weighted_fusion(DENSE, {}, 0.5) == pytest.approx(
        {r: 0.5 * (s - 0.80) / (0.91 - 0.80) for r, s in DENSE.items()})


def test_round_robin_interleaves_and_keeps_first_occurrence():
    merged = round_robin([["a", "b", "c"], ["b", "d"], ["e"]], key=lambda x: x)
    assert merged == ["a", "b", "e", "d", "c"]
    assert round_robin([], key=lambda x: x) == [] and round_robin([[], []], key=lambda x: x) == []
