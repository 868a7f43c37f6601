"""The persisted embedded batches: round trip, reopen, kills between file and rows, damage,
another embedder's vectors; never a pickle."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from rag.ingest.batches import EmbeddedBatches

DIM = 4


def _vectors(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, DIM)).astype(np.float32)


def test_batches_round_trip_and_survive_reopening(tmp_path: Path):
    store = EmbeddedBatches(tmp_path, "e5", DIM).open()
    first, second = _vectors(3, 1), _vectors(2, 2)
    store.put(["a", "b", "c"], first)
    store.put(["d", "e"], second)
    store.close()

    again = EmbeddedBatches(tmp_path, "e5", DIM).open()
    assert len(again) == 5 and again.batches == 2 and "c" in again and "z" not in again
    np.testing.assert_array_equal(again.get(["e", "a", "c"]), np.vstack([second[1], first[0], first[2]]))
    with pytest.raises(KeyError):
        again.get(["z"])
    assert all(np.load(p, allow_pickle=False).dtype == np.float32 for p in tmp_path.glob("batch-*.npy"))


def test_a_batch_file_without_its_rows_is_removed(tmp_path: Path):
    """A kill after the .npy was renamed into place but before its rows were committed."""
    store = EmbeddedBatches(tmp_path, "e5", DIM).open()
    store.put(["a"], _vectors(1))
    store.close()
    np.save(tmp_path / "batch-000002.npy", _vectors(2))
    (tmp_path / ".batch-000003.npy.tmp").write_bytes(b"half")
    again = EmbeddedBatches(tmp_path, "e5", DIM).open()
    assert again.chunk_ids() == {"a"}
    assert not (tmp_path / "batch-000002.npy").exists()
    again.put(["b"], _vectors(1, 3))  # the next batch number is free again
    assert again.chunk_ids() == {"a", "b"}


def test_a_damaged_batch_is_dropped_and_its_chunks_embedded_again(tmp_path: Path):
    store = EmbeddedBatches(tmp_path, "e5", DIM).open()
    store.put(["a", "b"], _vectors(2))
    store.put(["c"], _vectors(1, 1))
    store.close()
    damaged = tmp_path / "batch-000001.npy"
    damaged.write_bytes(damaged.read_bytes()[:-4] + b"\x00\x00\x00\x01")
    again = EmbeddedBatches(tmp_path, "e5", DIM).open()
    assert again.chunk_ids() == {"c"}


def test_another_embedders_batches_are_discarded(tmp_path: Path):
    store = EmbeddedBatches(tmp_path, "e5", DIM).open()
    store.put(["a"], _vectors(1))
    store.close()
    assert len(EmbeddedBatches(tmp_path, "bge", DIM).open()) == 0
    assert len(EmbeddedBatches(tmp_path, "e5", DIM).open()) == 0  # the other's open wrote its own meta


def test_wrong_shapes_are_refused_and_clear_removes_everything(tmp_path: Path):
    store = EmbeddedBatches(tmp_path / "b", "e5", DIM).open()
    with pytest.raises(ValueError):
        store.put(["a", "b"], _vectors(1))
    store.put(["a"], _vectors(1))
    store.clear()
    assert not (tmp_path / "b").exists() and len(store) == 0
