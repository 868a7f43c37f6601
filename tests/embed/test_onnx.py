"""The ONNX Runtime embedder: token-budget batches, a cheap constructor, the backend factory,
index compatibility between backends, and (slow) the real exported model against PyTorch."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pytest

from rag.config import Settings
from rag.embed.factory import (
    INT8_SUFFIX,
    check_index_embedder,
    embedder_from_settings,
    embedder_name,
    onnx_folder,
    same_model,
)
from rag.embed.fake import HashEmbedder
from rag.embed.onnx import MAX_BATCH_ROWS, OnnxEmbedder, token_batches
from rag.embed.sentence_transformer import SentenceTransformerEmbedder
from rag.errors import ConfigError

# ------------------------------------------------------------------ token batches


@pytest.mark.parametrize("budget,max_rows", [(1, 64), (100, 64), (512, 3), (4096, 64), (10**6, 5)])
def test_token_batches_cover_every_row_once_within_budget(budget, max_rows):
    lengths = [5, 300, 17, 512, 1, 64, 64, 250, 9, 120, 33, 2]
    batches = list(token_batches(lengths, budget, max_rows))
    rows = [r for b in batches for r in b]
    assert sorted(rows) == list(range(len(lengths)))
    for batch in batches:
        assert len(batch) <= max_rows
        padded = len(batch) * max(lengths[r] for r in batch)
        assert padded <= budget or len(batch) == 1  # a row over the budget goes alone


def test_token_batches_go_longest_first_so_rows_of_a_batch_are_alike():
    lengths = [10, 400, 12, 390, 11, 405]
    batches = list(token_batches(lengths, token_budget=1300, max_rows=64))
    assert batches == [[5, 1, 3], [2, 4, 0]]  # 3 x 405 <= 1300; the short ones together


def test_token_batches_of_nothing():
    assert list(token_batches([], 4096, 64)) == []


# ------------------------------------------------------------------ construction and factory


def test_construction_loads_nothing_and_a_missing_export_fails_at_warm_up(tmp_path):
    embedder = OnnxEmbedder(tmp_path / "nothing-here", "int8")
    assert not embedder.is_loaded
    assert embedder.name.endswith("#int8")
    with pytest.raises(FileNotFoundError, match="rag setup"):
        embedder.warm_up()
    with pytest.raises(ValueError):
        OnnxEmbedder(tmp_path, "int4")  # type: ignore[arg-type]


def _with(settings: Settings, **update) -> Settings:
    return settings.model_copy(update=update)


def test_factory_picks_the_backend_and_names_the_vectors(settings):
    torch = embedder_from_settings(_with(settings, embedding_backend="torch"))
    fp32 = embedder_from_settings(_with(settings, embedding_backend="onnx"))
    int8 = embedder_from_settings(_with(settings, embedding_backend="onnx-int8"))
    assert isinstance(torch, SentenceTransformerEmbedder)
    assert isinstance(fp32, OnnxEmbedder) and fp32.variant == "fp32"
    assert isinstance(int8, OnnxEmbedder) and int8.variant == "int8"
    assert fp32.files.folder == onnx_folder(settings) == int8.files.folder
    # torch and ONNX fp32 compute the same vectors: one name, so an index is shared by both.
    assert torch.name == fp32.name == settings.embedding_model_path
    assert int8.name == settings.embedding_model_path + INT8_SUFFIX
    for embedder, backend in ((torch, "torch"), (fp32, "onnx"), (int8, "onnx-int8")):
        assert embedder.name == embedder_name(_with(settings, embedding_backend=backend))
    # One per process and settings.
    assert embedder_from_settings(_with(settings, embedding_backend="onnx-int8")) is int8


def test_the_default_backend_is_int8(settings):
    assert Settings(_env_file=None).embedding_backend == "onnx-int8"
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_BACKEND"):
        from rag.config import load_settings

        load_settings(_env_file=None, embedding_backend="tensorrt")


def test_onnx_backend_needs_a_local_model_folder(settings):
    hub = _with(settings, embedding_model="BAAI/bge-small-zh-v1.5", embedding_backend="onnx-int8")
    with pytest.raises(ConfigError, match="RAG_EMBEDDING_BACKEND=torch"):
        embedder_from_settings(hub)


def test_an_index_of_another_backend_of_the_model_is_searchable_another_model_is_refused(caplog):
    int8 = OnnxEmbedder("/m/e5-onnx", "int8", name="/m/e5" + INT8_SUFFIX)
    assert same_model("/m/e5", int8.name) and not same_model("/m/bge", int8.name)
    check_index_embedder(int8.name, int8)  # the same: silent
    with caplog.at_level(logging.INFO, logger="rag.embed.factory"):
        check_index_embedder("/m/e5", int8)  # built with torch/onnx fp32, searched with int8
    assert "compatible" in caplog.text
    with pytest.raises(ConfigError, match="另一个模型"):
        check_index_embedder("/m/bge", int8)
    with pytest.raises(ConfigError):
        check_index_embedder("/m/e5", HashEmbedder())


# ------------------------------------------------------------------ the real exported model

FEE = "黑石BXPE将收取1.25%的管理费，低于行业惯例的2%。"


@pytest.fixture(scope="module")
def onnx_dir(settings):
    from rag.models.export_onnx import export_onnx

    return export_onnx(Path(settings.embedding_model_path))  # idempotent: exported once per clone


@pytest.fixture(scope="module")
def real_chunks(index_dir):
    from rag.index.store import load_index

    chunks = load_index(index_dir).chunks
    rng = np.random.default_rng(0)
    return [chunks[i].indexed_text for i in rng.choice(len(chunks), size=24, replace=False)]


@pytest.fixture(scope="module")
def torch_vectors(settings, real_chunks):
    embedder = embedder_from_settings(_with(settings, embedding_backend="torch"))
    return embedder.embed_passages(real_chunks), embedder.embed_query(FEE)


@pytest.mark.slow
@pytest.mark.parametrize("backend,floor_min,floor_mean", [("onnx", 0.9999, 0.9999), ("onnx-int8", 0.98, 0.99)])
def test_real_vectors_agree_with_pytorch(settings, onnx_dir, real_chunks, torch_vectors, backend, floor_min, floor_mean):
    embedder = embedder_from_settings(_with(settings, embedding_backend=backend))
    embedder.warm_up()
    passages, query = torch_vectors
    cosines = np.sum(embedder.embed_passages(real_chunks) * passages, axis=1)
    assert cosines.min() >= floor_min and cosines.mean() >= floor_mean
    assert float(embedder.embed_query(FEE) @ query) >= floor_min


@pytest.mark.slow
def test_batching_never_changes_a_vector(onnx_dir, real_chunks):
    """Batches of one, tiny budgets and one big batch (padding differs) give the same vectors."""
    big = OnnxEmbedder(onnx_dir, "int8", token_budget=10**6, max_batch_rows=1000)
    small = OnnxEmbedder(onnx_dir, "int8", token_budget=300, max_batch_rows=2)
    long_text = FEE * 80  # ~2,000 tokens: truncated to 512
    texts = [*real_chunks[:8], "", long_text]
    a, b = big.embed_passages(texts), small.embed_passages(texts)
    # int8 runs one passage at a time (dynamic quantization scales per batch): identical.
    assert big.max_batch_rows == small.max_batch_rows == 1
    assert np.array_equal(a, b)
    fp32_big = OnnxEmbedder(onnx_dir, "fp32", token_budget=10**6, max_batch_rows=1000).embed_passages(texts)
    fp32_small = OnnxEmbedder(onnx_dir, "fp32", token_budget=300, max_batch_rows=2).embed_passages(texts)
    assert np.allclose(fp32_big, fp32_small, atol=1e-4)
    assert np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)


@pytest.mark.slow
@pytest.mark.parametrize("variant", ["fp32", "int8"])
def test_sessions_keep_the_plain_layer_norms_the_export_wrote(onnx_dir, tmp_path, variant):
    """ONNX Runtime would fuse Add + LayerNormalization back into its slower
    SkipLayerNormalization at load; the embedder's sessions must not."""
    import onnx
    import onnxruntime as ort

    from rag.embed.onnx import open_session

    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.optimized_model_filepath = str(tmp_path / "optimized.onnx")
    embedder = OnnxEmbedder(onnx_dir, variant)
    open_session(embedder.model_path, options)
    ops = {node.op_type for node in onnx.load(str(tmp_path / "optimized.onnx"), load_external_data=False).graph.node}
    assert "LayerNormalization" in ops and "SkipLayerNormalization" not in ops


@pytest.mark.slow
def test_warm_up_loads_once_and_embedding_before_it_loads_lazily(onnx_dir):
    lazy = OnnxEmbedder(onnx_dir, "fp32")
    vector = lazy.embed_query("管理费")  # no warm_up(): loads on first use
    assert lazy.is_loaded and vector.shape == (lazy.dimension,) == (384,)
    session = lazy._session
    lazy.warm_up()
    assert lazy._session is session


@pytest.mark.slow
def test_index_built_with_int8_is_searched_alike_by_every_backend(settings, index_dir):
    """The session index is built with the default backend (int8); fp32 queries over it find
    the same passages for dev-set questions (measured on the whole dev set: recall@5 and
    MRR@10 within 0.01, see bench/embed_throughput.py)."""
    import json

    from rag.config import PROJECT_ROOT
    from rag.index.store import load_index
    from rag.retrieve.dense import DenseSearch

    index = load_index(index_dir)
    assert index.manifest.embedder == embedder_name(settings)
    rows = (PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl").read_text(encoding="utf-8").splitlines()
    questions = [json.loads(row)["question"] for row in rows[:20]]
    tops = {}
    for backend in ("onnx-int8", "torch"):
        embedder = embedder_from_settings(_with(settings, embedding_backend=backend))
        check_index_embedder(index.manifest.embedder, embedder)  # compatible: no error
        dense = DenseSearch(index, embedder)
        tops[backend] = [set(dense.search(q, 5)) for q in questions]
    overlap = [len(a & b) / 5 for a, b in zip(tops["onnx-int8"], tops["torch"])]
    assert np.mean(overlap) >= 0.8


# ------------------------------------------------------------------ side-by-side runs (no model)


class _FakeSession:
    """Stands in for an ONNX Runtime session: the vector of a row is its token ids' sum in
    slot 0 and its length in slot 1, so every output can be checked against its input."""

    def __init__(self) -> None:
        import threading

        self.threads: set[int] = set()
        self.shapes: list[tuple[int, int]] = []
        self._lock = threading.Lock()

    def run(self, _outputs, feeds):
        import threading
        import time

        ids, mask = feeds["input_ids"], feeds["attention_mask"]
        with self._lock:
            self.threads.add(threading.get_ident())
            self.shapes.append(ids.shape)
        time.sleep(0.002)  # let the other worker take the next batch
        out = np.zeros((ids.shape[0], 4), dtype=np.float32)
        out[:, 0] = (ids * mask).sum(axis=1)
        out[:, 1] = mask.sum(axis=1)
        out[:, 2] = 1.0
        return [out]


class _FakeTokenizer:
    def encode_batch(self, texts):
        from types import SimpleNamespace

        return [SimpleNamespace(ids=[ord(c) for c in t]) for t in texts]


def _fake_embedder(variant, **kwargs) -> tuple[OnnxEmbedder, _FakeSession]:
    embedder = OnnxEmbedder("/nowhere", variant, query_prefix="", passage_prefix="", **kwargs)
    session = _FakeSession()
    embedder._session, embedder._tokenizer, embedder._dimension = session, _FakeTokenizer(), 4
    return embedder, session


def test_int8_runs_one_unpadded_passage_per_run_on_every_core_side_by_side():
    texts = ["a" * n for n in (5, 40, 1, 17, 33, 2, 9, 25)]
    embedder, session = _fake_embedder("int8", threads=2)
    assert embedder.max_batch_rows == 1 and embedder.workers == 2
    got = embedder.embed_passages(texts)
    assert all(shape[0] == 1 for shape in session.shapes)  # one row: never any padding
    assert len(session.threads) == 2  # two runs at a time
    want = np.array([[97.0 * len(t), len(t), 1.0, 0.0] for t in texts], dtype=np.float32)
    want /= np.linalg.norm(want, axis=1, keepdims=True)
    assert np.allclose(got, want)  # each vector back in its text's row


def test_workers_default_to_the_cores_for_int8_and_to_one_for_batched_fp32():
    assert OnnxEmbedder("/x", "int8", threads=4).workers == 4
    assert OnnxEmbedder("/x", "int8", threads=4, workers=9).workers == 4  # never more than the threads
    assert OnnxEmbedder("/x", "int8", threads=1).workers == 1
    fp32 = OnnxEmbedder("/x", "fp32", threads=2)
    assert fp32.workers == 1 and fp32.max_batch_rows == MAX_BATCH_ROWS
    embedder, session = _fake_embedder("fp32", threads=2)
    embedder.embed_passages(["abc", "de", "f"])
    assert len(session.threads) == 1 and session.shapes == [(3, 3)]  # one padded batch
