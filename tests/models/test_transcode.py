"""Transcoding a Q4_K_M GGUF into Q4_0 / Q8_0 (rag.models.transcode).

Unit tests run on a few real tensors of the 0.5B GGUF and on a tiny synthetic GGUF;
the full 0.5B -> Q8_0 transcode (about a minute of CPU) that llama.cpp then loads and
answers with is marked slow.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

gguf = pytest.importorskip("gguf")
from gguf import GGMLQuantizationType as T  # noqa: E402
from gguf import quants  # noqa: E402

from rag.config import PROJECT_ROOT  # noqa: E402
from rag.fileutil import sha256_file  # noqa: E402
from rag.models import transcode as tc  # noqa: E402

MODEL_05B = PROJECT_ROOT / "models" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf"
needs_05b = pytest.mark.skipif(not MODEL_05B.is_file(), reason="0.5B GGUF not built (rag setup --llm 0.5b)")


@pytest.fixture(scope="module")
def reader_05b():
    return gguf.GGUFReader(MODEL_05B)


def _tensor(reader, name: str):
    return next(t for t in reader.tensors if t.name == name)


# --- the recipe ------------------------------------------------------------------


def test_planned_types_follow_llama_quantize():
    q4, q8 = tc.targets()["q4_0"], tc.targets()["q8_0"]
    plan = lambda name, src, target, dims=2, cols=1536, tied=False: tc.planned_type(  # noqa: E731
        name, src, dims, cols, target, tied_embeddings=tied)
    # norms, biases and other 1-D tensors stay as they are
    assert plan("blk.0.attn_norm.weight", T.F32, q4, dims=1) == T.F32
    assert plan("blk.0.attn_q.bias", T.F32, q8, dims=1) == T.F32
    assert plan("output_norm.weight", T.F32, q4, dims=1) == T.F32
    # ordinary weights, whatever their source type, get the file type
    assert plan("blk.0.ffn_gate.weight", T.Q4_K, q4) == T.Q4_0
    assert plan("blk.0.ffn_down.weight", T.Q6_K, q4) == T.Q4_0
    assert plan("blk.0.attn_v.weight", T.Q6_K, q8) == T.Q8_0
    assert plan("token_embd.weight", T.Q4_K, q4) == T.Q4_0
    # output: Q6_K in a Q4_0 file (kept, not rounded again), Q8_0 in a Q8_0 file
    assert plan("output.weight", T.Q6_K, q4) == T.Q6_K
    assert plan("output.weight", T.Q8_0, q4) == T.Q8_0  # already better than Q6_K
    assert plan("output.weight", T.Q6_K, q8) == T.Q8_0
    # tied embeddings: token_embd is the output projection too
    assert plan("token_embd.weight", T.Q6_K, q4, tied=True) == T.Q6_K
    assert plan("token_embd.weight", T.Q4_K, q8, tied=True) == T.Q8_0
    # a row length the 32-wide blocks do not divide is left alone
    assert plan("blk.0.ffn_up.weight", T.Q4_K, q4, cols=1000) == T.Q4_K


def test_parse_quants_and_names():
    assert tc.parse_quants("q4_0, Q8_0,q4_0") == ["q4_0", "q8_0"]
    assert tc.parse_quants("none") == [] and tc.parse_quants("") == []
    with pytest.raises(ValueError, match="q5_k"):
        tc.parse_quants("q4_0,q5_k")
    assert tc.transcoded_name("qwen2.5-coder-1.5b-instruct-q4_k_m.gguf", "q4_0") == \
        "qwen2.5-coder-1.5b-instruct-q4_0.gguf"
    assert tc.transcoded_name("model.gguf", "q8_0") == "model-q8_0.gguf"


# --- round trips on real tensors ---------------------------------------------------


@needs_05b
@pytest.mark.parametrize("dst, rel_rms_max", [(T.Q8_0, 0.01), (T.Q4_0, 0.15)])
def test_round_trip_error_is_bounded_per_block(reader_05b, dst, rel_rms_max):
    # A Q5_0 and a Q4_K tensor of the real model (the 0.5B holds both kinds).
    for name in ("blk.0.attn_k.weight", "blk.0.attn_output.weight"):
        t = _tensor(reader_05b, name)
        x = quants.dequantize(np.asarray(t.data), t.tensor_type)
        y = quants.dequantize(tc._convert(t.data, t.tensor_type, dst, int(t.shape[0])), dst)
        assert y.shape == x.shape
        blocks_x, blocks_e = x.reshape(-1, 32), (y - x).reshape(-1, 32)
        amax = np.abs(blocks_x).max(axis=1)
        # Q8_0 rounds to amax/127 steps (error <= half a step); Q4_0 to amax/8 steps, and
        # the value opposite the block's extreme may clip by one full step.  The step is
        # stored as fp16: up to 2^-11 relative (plus 3e-8 absolute when subnormal), times
        # the largest level (127 or 8).
        levels = 127 if dst == T.Q8_0 else 8
        step = amax / levels
        bound = step * (0.5 if dst == T.Q8_0 else 1.0) + levels * (step * 2**-11 + 3e-8)
        assert np.all(np.abs(blocks_e).max(axis=1) <= bound)
        rel_rms = float(np.sqrt(np.mean((y - x) ** 2)) / np.sqrt(np.mean(x**2)))
        assert 0 < rel_rms < rel_rms_max


@needs_05b
def test_convert_in_chunks_equals_one_pass(reader_05b, monkeypatch):
    t = _tensor(reader_05b, "blk.0.ffn_down.weight")
    whole = quants.quantize(quants.dequantize(np.asarray(t.data), t.tensor_type), T.Q4_0)
    monkeypatch.setattr(tc, "_CHUNK_ELEMENTS", 7 * int(t.shape[0]))  # 7 rows per chunk
    assert np.array_equal(tc._convert(t.data, t.tensor_type, T.Q4_0, int(t.shape[0])), whole)


# --- a file of a few real tensors ---------------------------------------------------------

SUBSET = ["output_norm.weight", "output.weight", "blk.0.attn_q.bias", "blk.0.attn_k.weight",
          "blk.0.ffn_down.weight"]


@needs_05b
@pytest.mark.parametrize("quant, file_type", [("q4_0", 2), ("q8_0", 7)])
def test_subset_transcode_copies_metadata_and_converts_tensors(reader_05b, tmp_path, quant, file_type):
    out = tmp_path / f"sub-{quant}.gguf"
    report = tc.transcode(MODEL_05B, out, quant, only=SUBSET, workers=2)
    assert report.output == out and out.is_file() and report.sha256 == sha256_file(out)
    assert not list(tmp_path.glob(".*tmp*"))  # the temp file was renamed, not left behind
    new = gguf.GGUFReader(out)

    # every key with the same type and value, only general.file_type changed
    for key, field in reader_05b.fields.items():
        if key.startswith("GGUF."):
            continue
        other = new.fields[key]
        assert other.types == field.types, key
        if key == "general.file_type":
            assert other.contents() == file_type
        else:
            assert other.contents() == field.contents(), key
    assert len(new.fields["tokenizer.ggml.tokens"].contents()) == 151936
    assert "<|im_start|>" in new.fields["tokenizer.chat_template"].contents()

    got = {t.name: t for t in new.tensors}
    assert sorted(got) == sorted(SUBSET)  # in the source file's order
    target = T.Q4_0 if quant == "q4_0" else T.Q8_0
    for name in SUBSET:
        src, dst = _tensor(reader_05b, name), got[name]
        assert list(dst.shape) == list(src.shape)
        if name in ("output_norm.weight", "blk.0.attn_q.bias"):
            assert dst.tensor_type == T.F32
            assert np.array_equal(np.asarray(dst.data), np.asarray(src.data))
        elif name == "output.weight":  # Q8_0 in the 0.5B: at least as good as wanted, kept
            assert dst.tensor_type == src.tensor_type == T.Q8_0
            assert np.array_equal(np.asarray(dst.data), np.asarray(src.data))
        else:
            assert dst.tensor_type == target
            expected = quants.quantize(quants.dequantize(np.asarray(src.data), src.tensor_type), target)
            assert np.array_equal(np.asarray(dst.data), expected)
    assert report.converted == 2 and report.copied == 3


# --- set-up: idempotent and recorded ----------------------------------------------------


def _tiny_gguf(path: Path, seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    w = gguf.GGUFWriter(path, "qwen2")
    w.add_block_count(1)
    w.add_string("tokenizer.chat_template", "{{ messages }}")
    w.add_array("tokenizer.ggml.tokens", ["你", "好", "<|im_end|>"])
    w.add_file_type(int(gguf.LlamaFileType.MOSTLY_Q4_K_M))
    weight = rng.standard_normal((64, 256)).astype(np.float32)
    # gguf cannot quantize Q4_K, so the source weight is Q8_0 (what the transcoder reads either way: dequantized)
    w.add_tensor("blk.0.attn_q.weight", quants.quantize(weight, T.Q8_0), raw_dtype=T.Q8_0)
    w.add_tensor("blk.0.attn_norm.weight", rng.standard_normal(256).astype(np.float32))
    w.add_tensor("output.weight", quants.quantize(weight, T.Q8_0), raw_dtype=T.Q8_0)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return path


def test_ensure_transcoded_is_idempotent_and_records_hashes(tmp_path, monkeypatch):
    src = _tiny_gguf(tmp_path / "tiny-q4_k_m.gguf")
    out = tc.ensure_transcoded(src, "q4_0")
    assert out == tmp_path / "tiny-q4_0.gguf"
    side = json.loads((tmp_path / "tiny-q4_0.gguf.sha256.json").read_text())
    assert side["sha256"] == sha256_file(out) and side["size"] == out.stat().st_size
    assert side["source_sha256"] == sha256_file(src)
    assert side["quant"] == "q4_0" and side["recipe"] == tc.RECIPE_VERSION
    assert side["tensor_types"] == {"Q4_0": 1, "F32": 1, "Q8_0": 1}
    types = {t.name: t.tensor_type for t in gguf.GGUFReader(out).tensors}
    assert types["blk.0.attn_q.weight"] == T.Q4_0

    # a second call trusts the sidecar: nothing is transcoded again
    def boom(*a, **k):
        raise AssertionError("transcoded again")

    monkeypatch.setattr(tc, "transcode", boom)
    mtime = out.stat().st_mtime_ns
    assert tc.ensure_transcoded(src, "q4_0") == out and out.stat().st_mtime_ns == mtime
    monkeypatch.undo()

    # another source (other weights) makes the output stale: it is rebuilt
    _tiny_gguf(src, seed=1)
    old_hash = side["sha256"]
    tc.ensure_transcoded(src, "q4_0")
    side = json.loads((tmp_path / "tiny-q4_0.gguf.sha256.json").read_text())
    assert side["source_sha256"] == sha256_file(src) and side["sha256"] != old_hash


def test_ensure_transcoded_errors(tmp_path):
    with pytest.raises(ValueError, match="q5_k"):
        tc.ensure_transcoded(tmp_path / "x.gguf", "q5_k")
    with pytest.raises(FileNotFoundError, match="找不到"):
        tc.ensure_transcoded(tmp_path / "missing.gguf", "q8_0")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(b"not a gguf at all" * 10)
    with pytest.raises(tc.TranscodeError):
        tc.transcode(bad, tmp_path / "out.gguf", "q8_0")
    assert not (tmp_path / "out.gguf").exists()


def test_setup_rejects_bad_quant_before_any_model_work():
    from typer.testing import CliRunner

    from rag.cli import app

    result = CliRunner().invoke(app, ["setup", "--llm", "none", "--quant", "q4_0"])
    assert result.exit_code == 2 and "--quant" in result.output
    result = CliRunner().invoke(app, ["setup", "--llm", "0.5b", "--quant", "q3"])
    assert result.exit_code == 2 and "q3" in result.output


# --- the whole model, loaded by llama.cpp -----------------------------------------------


@needs_05b
@pytest.mark.slow
def test_full_05b_q8_0_loads_in_llama_cpp_and_answers(tmp_path):
    import openai

    from rag.llm_runtime.server import LocalLLMServer

    out = tmp_path / "qwen2.5-coder-0.5b-instruct-q8_0.gguf"
    report = tc.transcode(MODEL_05B, out, "q8_0")
    assert report.tensor_types == {"Q8_0": 170, "F32": 121}
    assert 600e6 < report.size < 700e6  # 8.5 bits per weight for ~0.5B parameters
    with LocalLLMServer(out, port=0, threads=2, ctx=1024) as srv:
        client = openai.OpenAI(base_url=srv.base_url, api_key="not-needed")
        r = client.chat.completions.create(
            model=srv.model_id, temperature=0, max_tokens=32,
            messages=[{"role": "system", "content": "你是一个严谨的中文问答助手。"},
                      {"role": "user", "content": "资料：中国的首都是北京，北京位于华北平原。\n问题：中国的首都是哪里？"}],
        )
    assert "北京" in (r.choices[0].message.content or "")
