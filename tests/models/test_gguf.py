"""Reading a GGUF header's metadata without loading the model."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from rag.models.gguf import read_gguf_metadata


def _string(text: str) -> bytes:
    data = text.encode("utf-8")
    return struct.pack("<Q", len(data)) + data


def _gguf(path: Path) -> Path:
    kv = [
        _string("general.architecture") + struct.pack("<I", 8) + _string("qwen2"),
        _string("qwen2.context_length") + struct.pack("<I", 4) + struct.pack("<I", 32768),
        _string("tokenizer.ggml.token_type") + struct.pack("<I", 9) + struct.pack("<IQ", 5, 3)
        + struct.pack("<3i", 1, 2, 3),
        _string("tokenizer.ggml.tokens") + struct.pack("<I", 9) + struct.pack("<IQ", 8, 2)
        + _string("你") + _string("好"),
    ]
    path.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 7, len(kv)) + b"".join(kv) + b"tensor data")
    return path


def test_metadata_scalars_strings_and_arrays(tmp_path: Path):
    path = _gguf(tmp_path / "m.gguf")
    meta = read_gguf_metadata(path)
    assert meta == {
        "gguf.version": 3,
        "gguf.tensor_count": 7,
        "general.architecture": "qwen2",
        "qwen2.context_length": 32768,
        "tokenizer.ggml.token_type": "<array of 3>",
        "tokenizer.ggml.tokens": "<array of 2>",
    }
    full = read_gguf_metadata(path, keep_arrays=True)
    assert full["tokenizer.ggml.token_type"] == [1, 2, 3]
    assert full["tokenizer.ggml.tokens"] == ["你", "好"]


def test_not_gguf_and_truncated_are_refused(tmp_path: Path):
    other = tmp_path / "x.bin"
    other.write_bytes(b"ZZZZ" + bytes(20))
    with pytest.raises(ValueError, match="not a GGUF"):
        read_gguf_metadata(other)
    whole = _gguf(tmp_path / "m.gguf").read_bytes()
    cut = tmp_path / "cut.gguf"
    cut.write_bytes(whole[:40])
    with pytest.raises(ValueError, match="truncated"):
        read_gguf_metadata(cut)
