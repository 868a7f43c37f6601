"""The ONNX export of the converted e5 model: complete, checksummed, idempotent, atomic,
with dynamic batch and sequence axes and fused operators.

Exports into ``models/multilingual-e5-small-onnx`` on first run (~2 min on two cores;
``rag setup`` has usually done it already), then reuses it.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from rag.errors import RagError
from rag.models import export_onnx as exp
from rag.models.export_onnx import (
    FP32_FILE,
    INT8_FILE,
    MARKER_NAME,
    ExportError,
    OnnxFiles,
    export_onnx,
    is_exported,
    onnx_dir_for,
)


def test_the_onnx_folder_is_a_sibling_of_the_model_folder(tmp_path):
    assert onnx_dir_for(tmp_path / "multilingual-e5-small") == tmp_path / "multilingual-e5-small-onnx"


def test_nothing_or_a_bad_marker_is_not_an_export(tmp_path):
    assert not is_exported(tmp_path / "missing")
    (tmp_path / MARKER_NAME).write_text("{not json", encoding="utf-8")
    assert not is_exported(tmp_path)
    (tmp_path / MARKER_NAME).write_text(json.dumps({"exporter_version": exp.EXPORTER_VERSION}), encoding="utf-8")
    assert not is_exported(tmp_path)  # lists no files


def test_a_folder_that_is_no_converted_model_is_refused(tmp_path):
    with pytest.raises(ExportError, match="rag setup") as caught:
        export_onnx(tmp_path)
    assert isinstance(caught.value, RagError)  # `rag setup` prints it as one line


def test_a_failed_export_leaves_nothing_behind_and_the_old_folder_live(tmp_path, monkeypatch):
    src = tmp_path / "model"
    src.mkdir()
    for name in ("config.json", "model.safetensors", "tokenizer.json"):
        (src / name).write_text("{}", encoding="utf-8")
    out = tmp_path / "model-onnx"
    out.mkdir()
    (out / "keep.txt").write_text("previous export", encoding="utf-8")

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # as if the export were interrupted half-way

    monkeypatch.setattr(exp, "_build", killed)
    with pytest.raises(KeyboardInterrupt):
        export_onnx(src, out)
    assert (out / "keep.txt").read_text(encoding="utf-8") == "previous export"
    assert sorted(p.name for p in tmp_path.iterdir()) == [".model-onnx.lock", "model", "model-onnx"]


# ------------------------------------------------------------------ the real export


@pytest.fixture(scope="module")
def exported(settings) -> Path:
    return export_onnx(Path(settings.embedding_model_path))


@pytest.mark.slow
def test_the_export_is_complete_and_checksummed(exported):
    files = OnnxFiles(exported)
    marker = json.loads(files.marker.read_text(encoding="utf-8"))
    assert is_exported(exported, checksums=True)
    assert set(marker["files"]) == {FP32_FILE, INT8_FILE, "tokenizer.json", "embedder.json"}
    for name, record in marker["files"].items():
        assert len(record["sha256"]) == 64 and (exported / name).stat().st_size == record["size"]
    assert marker["int8_options"] == exp.INT8_OPTIONS and marker["int8_graph"] == exp.INT8_GRAPH
    assert marker["verified_min_cosine"]["fp32"] >= exp.MIN_FP32_COSINE
    assert marker["verified_min_cosine"]["int8"] >= exp.MIN_INT8_COSINE
    # int8 weights: about a quarter of the fp32 file.
    assert files.int8.stat().st_size < 0.35 * files.fp32.stat().st_size


@pytest.mark.slow
def test_a_second_export_is_a_no_op(exported, settings):
    before = {p.name: p.stat().st_mtime_ns for p in exported.iterdir()}
    assert export_onnx(Path(settings.embedding_model_path)) == exported
    assert {p.name: p.stat().st_mtime_ns for p in exported.iterdir()} == before


@pytest.mark.slow
def test_a_damaged_file_is_caught_by_its_checksum(exported, tmp_path):
    copy = tmp_path / "copy"
    copy.mkdir()
    for p in exported.iterdir():
        if p.suffix == ".onnx":
            os.symlink(p, copy / p.name)  # big files: linked, not copied
        else:
            shutil.copyfile(p, copy / p.name)
    assert is_exported(copy, checksums=True)
    data = bytearray((copy / "tokenizer.json").read_bytes())
    data[100] ^= 1  # same size, one bit different
    (copy / "tokenizer.json").write_bytes(bytes(data))
    assert is_exported(copy)  # the cheap check (sizes) before every load does not see it...
    assert not is_exported(copy, checksums=True)  # ...the set-up check does, and exports again
    (copy / "embedder.json").write_text("{}", encoding="utf-8")
    assert not is_exported(copy)  # a size change is seen at once


@pytest.mark.slow
@pytest.mark.parametrize("name", [FP32_FILE, INT8_FILE])
def test_graphs_are_fused_and_take_any_batch_and_length(exported, name):
    import onnx
    import onnxruntime as ort

    graph = onnx.load(str(exported / name), load_external_data=False).graph
    ops = {node.op_type for node in graph.node}
    assert "EmbedLayerNormalization" in ops or "QEmbedLayerNormalization" in ops
    # Plain layer norms: ONNX Runtime's SkipLayerNormalization kernel is the slower one.
    assert "LayerNormalization" in ops and "SkipLayerNormalization" not in ops
    if name == FP32_FILE:
        assert "Attention" in ops  # with the mask: batches of padded rows
    else:
        # One row at a time: MultiHeadAttention without a mask (flash attention), int8 weights.
        assert "MultiHeadAttention" in ops and not {"Attention", "QAttention"} & ops
        mha = [n for n in graph.node if n.op_type == "MultiHeadAttention"]
        assert len(mha) == 12 and all(not any(n.input[4:]) for n in mha)  # q, k, v, bias: no key padding mask
        assert "DynamicQuantizeLinear" in ops or "MatMulInteger" in ops
        # GELU apart from its bias, which quantization folds into the int8 MatMul's own bias.
        assert "Gelu" in ops and "BiasGelu" not in ops
    assert [i.name for i in graph.input] == ["input_ids", "attention_mask"]
    session = ort.InferenceSession(str(exported / name), providers=["CPUExecutionProvider"])
    for batch, length in ((1, 3), (3, 40), (2, 512)):
        ids = np.full((batch, length), 6, dtype=np.int64)
        ids[:, 0], ids[:, -1] = 0, 2
        mask = np.ones_like(ids)
        mask[-1, length // 2 :] = 0  # the last row padded
        (vectors,) = session.run(None, {"input_ids": ids, "attention_mask": mask})
        assert vectors.shape == (batch, 384)
        assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_the_export_is_reproducible(exported, settings, tmp_path):
    """A second export from scratch writes the very same files (same checksums), so the
    marker of one machine's export describes any other's."""
    again = export_onnx(Path(settings.embedding_model_path), tmp_path / "again", force=True, verify=False)
    first = json.loads((exported / MARKER_NAME).read_text(encoding="utf-8"))["files"]
    second = json.loads((again / MARKER_NAME).read_text(encoding="utf-8"))["files"]
    assert second == first
