"""The on-disk index: versions written whole and switched atomically, nothing unpickled,
damaged or missing indexes reported as the engine's own errors."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np
import pytest

from rag.errors import IndexCorruptError, IndexNotFoundError, RagError
from rag.index.store import Manifest, current_version_dir, load_index, write_index
from tests.index import synthetic
from tests.index.synthetic import DIM

VERSION_FILES = {"manifest.json", "chunks.sqlite", "dense.faiss"}

# ------------------------------------------------------------------ round trip
def test_written_index_loads_back_exactly(tmp_path: Path):
    path, chunks, tokens, vectors = synthetic.write(tmp_path)
    assert current_version_dir(tmp_path) == path
    assert {p.name for p in path.iterdir()} == VERSION_FILES
    loaded = load_index(tmp_path)
    assert loaded.version == path.name
    assert loaded.chunks == chunks
    assert loaded.tokens == tokens
    np.testing.assert_array_equal(loaded.vectors(), vectors)
    assert loaded.by_id == {c.chunk_id: i for i, c in enumerate(chunks)}
    assert loaded.rows_for_file("a.txt") == list(range(5)) and loaded.rows_for_file("b.txt") == []
    assert loaded.manifest.files == synthetic.manifest(chunks).files
    assert (loaded.manifest.embedder, loaded.manifest.dimension, loaded.manifest.pipeline) == ("fake", DIM, "abc")


def test_manifest_json_round_trip():
    manifest = synthetic.manifest(synthetic.chunks(3) + synthetic.chunks(2, "b.txt"))
    again = Manifest.from_json(manifest.to_json())
    assert again == manifest
    assert list(again.files) == ["a.txt", "b.txt"]


def test_empty_index_is_valid(tmp_path: Path):
    write_index(tmp_path, synthetic.manifest([]), [], [], np.zeros((0, DIM), dtype=np.float32))
    loaded = load_index(tmp_path)
    assert loaded.chunks == [] and loaded.vectors().shape == (0, DIM)


def test_misaligned_inputs_are_refused(tmp_path: Path):
    chunks = synthetic.chunks(3)
    with pytest.raises(ValueError, match="align"):
        write_index(tmp_path, synthetic.manifest(chunks), chunks, [[]] * 3, synthetic.vectors(2))
    assert current_version_dir(tmp_path) is None


# ------------------------------------------------------------------ versions
def test_new_version_replaces_the_old_one_which_is_kept_for_rollback(tmp_path: Path):
    first, *_ = synthetic.write(tmp_path, n=3, seed=1)
    leftover = tmp_path / "versions" / ".tmp-20000101-000000-1-000000"
    leftover.mkdir()
    (leftover / "dense.faiss").write_bytes(b"half written")
    second, *_ = synthetic.write(tmp_path, n=4, seed=2)
    assert second != first
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8") == second.name
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == sorted([first.name, second.name])
    assert len(load_index(tmp_path).chunks) == 4
    third, *_ = synthetic.write(tmp_path, n=2, seed=3)  # the one before the previous goes
    assert sorted(p.name for p in (tmp_path / "versions").iterdir()) == sorted([second.name, third.name])


def test_pointer_to_a_missing_version_is_no_index(tmp_path: Path):
    (tmp_path / "CURRENT").write_text("gone", encoding="utf-8")
    assert current_version_dir(tmp_path) is None
    with pytest.raises(IndexNotFoundError):
        load_index(tmp_path)


# ------------------------------------------------------------------ errors
def test_missing_index_is_the_engines_error_and_names_the_fix(tmp_path: Path):
    with pytest.raises(IndexNotFoundError) as excinfo:
        load_index(tmp_path / "nothing-here")
    assert isinstance(excinfo.value, RagError) and isinstance(excinfo.value, FileNotFoundError)
    message = str(excinfo.value)
    assert message.startswith("还没有建立索引") and "rag ingest" in message


def test_vectors_and_chunks_out_of_step_is_corrupt(tmp_path: Path):
    import faiss

    path, *_ = synthetic.write(tmp_path, n=5)
    shorter = faiss.IndexFlatIP(DIM)
    shorter.add(synthetic.vectors(3))
    faiss.write_index(shorter, str(path / "dense.faiss"))
    synthetic.drop_checksums(path)  # a version from before checksums: the counts are what catch it
    with pytest.raises(IndexCorruptError) as excinfo:
        load_index(tmp_path)
    assert isinstance(excinfo.value, RagError)
    assert str(excinfo.value).startswith("索引已损坏") and "3 vectors, 5 chunks" in str(excinfo.value)


def test_index_not_found_error_is_still_importable_from_the_store():
    from rag.index import store

    assert store.IndexNotFoundError is IndexNotFoundError


# ------------------------------------------------------------------ the real index
def test_index_holds_no_pickles_and_loading_never_unpickles(index_dir: Path, monkeypatch):
    version = current_version_dir(index_dir)
    assert version is not None
    assert {p.name for p in version.iterdir()} == VERSION_FILES
    names = [p.name for p in (index_dir / "versions").iterdir()]
    assert version.name in names and len(names) <= 2  # the live version and the one it replaced
    for path in index_dir.rglob("*"):
        assert path.suffix not in (".pkl", ".pickle", ".npy", ".npz", ".joblib"), path
    assert (version / "chunks.sqlite").read_bytes()[:16] == b"SQLite format 3\x00"
    assert (version / "dense.faiss").read_bytes()[:4] == b"IxFI"  # FAISS's own flat-IP format

    def refuse(*args, **kwargs):
        raise AssertionError("load_index must not unpickle anything")

    monkeypatch.setattr(pickle, "load", refuse)
    monkeypatch.setattr(pickle, "loads", refuse)
    monkeypatch.setattr(np, "load", refuse)
    loaded = load_index(index_dir)
    assert len(loaded.chunks) == loaded.faiss_index.ntotal > 0
