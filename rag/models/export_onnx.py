"""Export the converted embedding model to ONNX, fp32 and int8 (run by ``rag setup``).

PyTorch fp32 embeds ~10 chunks/s on two cores, 90 % of an ingest. ONNX Runtime runs the
same network faster, and much faster with int8 weights, without importing torch at all
when serving. The folder written beside the sentence-transformers folder
(``models/multilingual-e5-small-onnx/``) holds:

* ``model.onnx``: the encoder + mean pooling + L2 normalisation as one graph, inputs
  ``input_ids``/``attention_mask`` (int64, dynamic batch and sequence axes), output
  ``sentence_embedding``; its attention, layer norms, GELU and embedding layer fused by
  ONNX Runtime's BERT optimizer (fused operators run several times fewer kernels).
* ``model-int8.onnx``: the graph fused for one passage at a time (:data:`INT8_GRAPH`:
  ``MultiHeadAttention`` without an attention mask, which lets ONNX Runtime run its
  flash-attention kernel), quantized dynamically (int8 weights, activations quantized per
  run) with :data:`INT8_OPTIONS`, the options that held the retrieval quality on the dev
  set (see bench/embed_throughput.py). Without a mask its attention would see padding:
  it must be run on unpadded single rows, as :class:`rag.embed.onnx.OnnxEmbedder` does.
* ``tokenizer.json`` and ``embedder.json`` (dimension, max_seq_length), so serving needs
  only ``onnxruntime`` and ``tokenizers``.
* ``.export-complete.json`` (written last): the exporter version, the source folder's
  fingerprint, the sha256 and size of every file and the cosines measured against the
  PyTorch model. A missing or stale marker means "export again".

Like the conversion, the export is idempotent (marker + checksums), serialised by a file
lock and built in a temporary sibling folder renamed into place, so a reader never sees a
half-written model and a killed export leaves nothing that looks complete.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from rag.errors import RagError
from rag.fileutil import sha256_file

logger = logging.getLogger(__name__)

__all__ = [
    "FP32_FILE", "INT8_FILE", "MARKER_NAME", "ExportError", "OnnxFiles", "export_onnx", "is_exported", "onnx_dir_for",
]

EXPORTER_VERSION = 4  # 2: the int8 graph fused with MultiHeadAttention and no mask; 3: Add + LayerNormalization, not SkipLayerNormalization; 4: int8 Gelu without its bias
MARKER_NAME = ".export-complete.json"
FP32_FILE = "model.onnx"
INT8_FILE = "model-int8.onnx"
CONFIG_FILE = "embedder.json"
TOKENIZER_FILE = "tokenizer.json"
OPSET = 17

# Dynamic quantization of the fused graph: weights int8 (symmetric), activations uint8
# quantized per batch. One scale per output channel rather than per tensor: measured on
# 64 bundled chunks, vectors at cosine 0.997 (min 0.995) of fp32 instead of 0.987 (min
# 0.980); 7-bit weights (reduce_range) made it worse (0.955) on this AVX2 CPU.
INT8_OPTIONS: dict[str, Any] = {"per_channel": True, "reduce_range": False}
# How the graph that is quantized is fused. Measured one thread each, interleaved, on 40
# bundled chunks (mean 242 tokens): Attention + mask (QAttention once quantized) 1.00,
# MultiHeadAttention + mask 1.06, MultiHeadAttention without a mask 1.14 (ONNX Runtime's
# CPU flash attention, used only without a mask); Attention kept fp32 0.85. The vectors
# are the same to cosine 0.998 (both at 0.996 min / 0.9975 mean of fp32).
INT8_GRAPH = "multi-head-attention, no mask"

# Checked before publishing: ONNX fp32 must reproduce PyTorch, int8 must stay close.
MIN_FP32_COSINE = 0.9999
MIN_INT8_COSINE = 0.95
VERIFY_TEXTS = (
    "query: 黑石BXPE基金的管理费是多少？",
    "passage: 央行宣布下调金融机构存款准备金率0.5个百分点，释放长期资金约1万亿元。",
    "passage: 宁德时代发布三季度财报，净利润同比增长超过四成，动力电池出货量稳居全球第一。"
    "沪深两市成交额连续第三个交易日突破万亿元，北向资金全天净买入逾80亿元。",
    "passage: ",
)


class ExportError(RagError, RuntimeError):
    """The ONNX export could not be built or did not match the PyTorch model (``rag setup`` prints it)."""


@dataclass(frozen=True)
class OnnxFiles:
    """Where one exported folder's files are."""

    folder: Path

    @property
    def fp32(self) -> Path:
        return self.folder / FP32_FILE

    @property
    def int8(self) -> Path:
        return self.folder / INT8_FILE

    @property
    def tokenizer(self) -> Path:
        return self.folder / TOKENIZER_FILE

    @property
    def config(self) -> Path:
        return self.folder / CONFIG_FILE

    @property
    def marker(self) -> Path:
        return self.folder / MARKER_NAME


def onnx_dir_for(model_dir: Path) -> Path:
    """The ONNX folder of a sentence-transformers folder: a sibling named ``<name>-onnx``.

    A sibling rather than a subfolder: the conversion replaces its folder whole and refuses
    to replace one holding files it never writes.
    """
    model_dir = Path(model_dir)
    return model_dir.parent / f"{model_dir.name}-onnx"


def _source_fingerprint(model_dir: Path) -> dict[str, str]:
    """sha256 of the files the export reads: a re-converted model means a new export."""
    names = ["config.json", "model.safetensors", TOKENIZER_FILE]
    missing = [n for n in names if not (model_dir / n).is_file()]
    if missing:
        raise ExportError(f"{model_dir} is not a converted model folder (missing {', '.join(missing)}); run `rag setup`")
    return {name: sha256_file(model_dir / name) for name in names}


def _read_marker(folder: Path) -> dict[str, Any] | None:
    try:
        info = json.loads((folder / MARKER_NAME).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return info if isinstance(info, dict) else None


def is_exported(folder: Path, source: dict[str, str] | None = None, *, checksums: bool = False) -> bool:
    """True if ``folder`` holds a complete export by this exporter version.

    Always checks the marker and every file's size (cheap, done before each load);
    ``checksums`` also re-hashes every file; ``source`` (a :func:`_source_fingerprint`)
    also requires the export to be of exactly that source model.
    """
    info = _read_marker(Path(folder))
    if info is None or info.get("exporter_version") != EXPORTER_VERSION:
        return False
    if info.get("int8_options") != INT8_OPTIONS or info.get("int8_graph") != INT8_GRAPH:
        return False
    if source is not None and info.get("source") != source:
        return False
    files = info.get("files") or {}
    if not {FP32_FILE, INT8_FILE, TOKENIZER_FILE, CONFIG_FILE} <= set(files):
        return False
    for rel, record in files.items():
        path = Path(folder) / rel
        if not path.is_file() or path.stat().st_size != record.get("size"):
            return False
        if checksums and sha256_file(path) != record.get("sha256"):
            logger.warning("checksum mismatch: %s", path)
            return False
    return True


def export_onnx(model_dir: Path, out_dir: Path | None = None, force: bool = False, *, verify: bool = True) -> Path:
    """Export ``model_dir`` (a sentence-transformers folder) to ``out_dir`` and return it.

    Idempotent: returns at once when ``out_dir`` holds a complete export of this very
    source (checksums re-verified), unless ``force``. Takes ~2 minutes on two cores.
    """
    model_dir = Path(model_dir).expanduser().absolute()
    out_dir = Path(out_dir).expanduser().absolute() if out_dir is not None else onnx_dir_for(model_dir)
    source = _source_fingerprint(model_dir)
    if not force and is_exported(out_dir, source, checksums=True):
        logger.info("ONNX export already at %s", out_dir)
        return out_dir
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(out_dir.parent / f".{out_dir.name}.lock"):
        if not force and is_exported(out_dir, source, checksums=True):  # finished while we waited
            return out_dir
        if out_dir.exists() and not out_dir.is_dir():
            raise ExportError(f"{out_dir} exists and is not a directory; remove it first")
        for stale in [*out_dir.parent.glob(f".{out_dir.name}.tmp-*"), *out_dir.parent.glob(f".{out_dir.name}.old-*")]:
            shutil.rmtree(stale, ignore_errors=True)  # left by a killed export (we hold the lock)
        began = time.perf_counter()
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            _build(model_dir, tmp, source, verify)
            old = None
            if out_dir.exists():
                old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}-{time.time_ns()}"
                os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            if old is not None:
                shutil.rmtree(old, ignore_errors=True)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    logger.info("ONNX export ready at %s (%.0f s)", out_dir, time.perf_counter() - began)
    return out_dir


def _build(model_dir: Path, tmp: Path, source: dict[str, str], verify: bool) -> None:
    config = json.loads((model_dir / "config.json").read_text(encoding="utf-8"))
    max_len = _max_seq_length(model_dir)
    raw = tmp / "raw.onnx"
    t0 = time.perf_counter()
    _torch_export(model_dir, raw)
    logger.info("exported %s to ONNX in %.0f s", model_dir.name, time.perf_counter() - t0)

    t0 = time.perf_counter()
    heads, hidden = int(config["num_attention_heads"]), int(config["hidden_size"])
    _fuse(raw, tmp / FP32_FILE, heads, hidden)
    single = tmp / "single-row.onnx"
    _fuse(raw, single, heads, hidden, single_row=True)
    raw.unlink()
    logger.info("fused attention / layer norm / GELU in %.0f s", time.perf_counter() - t0)

    t0 = time.perf_counter()
    _quantize(single, tmp / INT8_FILE)
    single.unlink()
    logger.info("quantized to int8 (%s, %s) in %.0f s", INT8_GRAPH, INT8_OPTIONS, time.perf_counter() - t0)

    _save_tokenizer(model_dir, tmp / TOKENIZER_FILE)
    (tmp / CONFIG_FILE).write_text(
        json.dumps({"dimension": int(config["hidden_size"]), "max_seq_length": max_len, "pooling": "mean+l2"}, indent=2)
        + "\n",
        encoding="utf-8",
    )
    cosines = _verify(model_dir, tmp) if verify else {}
    marker = {
        "exporter_version": EXPORTER_VERSION,
        "source": source,
        "opset": OPSET,
        "int8_options": INT8_OPTIONS,
        "int8_graph": INT8_GRAPH,
        "verified_min_cosine": cosines,
        "files": {
            p.name: {"size": p.stat().st_size, "sha256": sha256_file(p)}
            for p in sorted(tmp.iterdir())
            if p.is_file() and p.name != MARKER_NAME
        },
    }
    (tmp / MARKER_NAME).write_text(json.dumps(marker, indent=2) + "\n", encoding="utf-8")
    for path in [tmp, *tmp.iterdir()]:  # mkdtemp creates 0700; make it readable like a normal folder
        path.chmod(0o755 if path.is_dir() else 0o644)


def _max_seq_length(model_dir: Path) -> int:
    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text(encoding="utf-8"))["max_seq_length"])
    except (OSError, ValueError, KeyError):
        return 512


def _torch_export(model_dir: Path, out: Path) -> None:
    """The encoder with mean pooling and L2 norm, traced (``dynamo=False``: the TorchScript
    exporter handles this transformers version; the dynamo one does not)."""
    import torch
    from transformers import AutoModel

    # eager attention: the plain MatMul/Softmax pattern ONNX Runtime's optimizer fuses.
    encoder = AutoModel.from_pretrained(str(model_dir), attn_implementation="eager", local_files_only=True).eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.inner = inner

        def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
            hidden = self.inner(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2.0, dim=1)

    # Two rows of different lengths so padding is traced as data, not as a constant shape.
    ids = torch.tensor([[0, 6, 7, 8, 2], [0, 9, 2, 1, 1]], dtype=torch.long)
    mask = torch.tensor([[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]], dtype=torch.long)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad(), _quiet():
        torch.onnx.export(
            Pooled(encoder),
            (ids, mask),
            str(out),
            input_names=["input_ids", "attention_mask"],
            output_names=["sentence_embedding"],
            dynamic_axes={"input_ids": axes, "attention_mask": axes, "sentence_embedding": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )


@contextmanager
def _quiet() -> Iterator[None]:
    """ONNX Runtime's optimizer and quantizer log every node at INFO (thousands of lines)
    on the root logger, which the CLI shows at INFO: raise it while they run."""
    root = logging.getLogger()
    level = root.level
    root.setLevel(max(level, logging.WARNING))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # the tracer's notes on constant shapes, shape inference
            yield
    finally:
        root.setLevel(level)


def _fuse(src: Path, out: Path, num_heads: int, hidden_size: int, *, single_row: bool = False) -> None:
    """BERT fusions. ``single_row``: ``MultiHeadAttention`` without the attention mask (see
    :data:`INT8_GRAPH`; the mask still weights the mean pooling) instead of ``Attention``."""
    from onnxruntime.transformers.fusion_options import FusionOptions
    from onnxruntime.transformers.optimizer import optimize_model

    options = FusionOptions("bert")
    # ONNX Runtime's CPU SkipLayerNormalization kernel is slower than the plain ops it
    # replaces: measured one thread, [1, 247, 384]: 0.52 ms against 0.09 ms for Add, Add,
    # LayerNormalization; 18 % of the int8 graph's time. Sessions must also keep ONNX
    # Runtime from fusing them again at load (rag.embed.onnx.DISABLED_OPTIMIZERS).
    options.enable_skip_layer_norm = False
    if single_row:
        options.use_multi_head_attention = True
        options.disable_attention_mask()
        # Gelu, not BiasGelu: the feed-forward bias then stays an Add after the MatMul,
        # which quantization folds into the int8 MatMul's own bias. Same vectors (cosine
        # to fp32 unchanged, 0.9966 min); measured one thread, 240 tokens: 2.9 ms of Gelu
        # against 4.8 ms of BiasGelu, and interleaved on 96 bundled chunks, two workers,
        # 1.07x the chunks/s.
        options.enable_bias_gelu = False
    # opt_level 0: only the BERT fusions here; ONNX Runtime applies its own (hardware-
    # specific) graph optimisations when a session loads the file.
    with _quiet():
        model = optimize_model(
            str(src), model_type="bert", num_heads=num_heads, hidden_size=hidden_size, opt_level=0,
            optimization_options=options,
        )
    fused = model.get_fused_operator_statistics()
    if not fused.get("MultiHeadAttention" if single_row else "Attention"):
        raise ExportError(f"attention was not fused ({fused}); the graph does not look like a BERT encoder")
    logger.info("fused operators: %s", {k: v for k, v in fused.items() if v})
    model.save_model_to_file(str(out))


def _quantize(src: Path, out: Path) -> None:
    import onnx
    from onnxruntime.quantization import QuantType, quantize_dynamic

    with _quiet():
        quantize_dynamic(
            str(src),
            str(out),
            weight_type=QuantType.QInt8,
            # The fused contrib operators (Attention, SkipLayerNormalization) carry no type
            # information for ONNX's shape inference: their outputs are float.
            extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
            **INT8_OPTIONS,
        )


def _save_tokenizer(model_dir: Path, out: Path) -> None:
    """The tokenizer exactly as transformers builds it for this folder (what the PyTorch
    backend uses), saved for the ``tokenizers`` library alone. Not a copy of the folder's
    tokenizer.json: transformers 5 defines XLM-R's pre-tokenizer in code (whitespace split
    first), so the file by itself keeps a trailing "▁" piece that transformers drops."""
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True).backend_tokenizer.save(str(out))


# Texts whose token ids must be identical for the two tokenizers (spaces, full-width forms).
TOKENIZER_CHECKS = (*VERIFY_TEXTS, "  a  b ", "第一行\n第二行\n", "ＧＤＰ增长５％\u3000", "x" * 3000)


def _check_tokenizer(model_dir: Path, folder: Path) -> None:
    from tokenizers import Tokenizer
    from transformers import AutoTokenizer

    reference = AutoTokenizer.from_pretrained(str(model_dir), local_files_only=True)
    exported = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
    exported.enable_truncation(_max_seq_length(model_dir))
    for text in TOKENIZER_CHECKS:
        want = reference(text, truncation=True, max_length=_max_seq_length(model_dir))["input_ids"]
        if exported.encode(text).ids != want:
            raise ExportError(f"exported tokenizer differs from transformers' on {text[:40]!r}")


def _verify(model_dir: Path, folder: Path) -> dict[str, float]:
    """Cosine of each ONNX file's vectors against the PyTorch model on :data:`VERIFY_TEXTS`."""
    from sentence_transformers import SentenceTransformer

    from rag.embed.onnx import OnnxEmbedder

    _check_tokenizer(model_dir, folder)
    model = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
    want = model.encode(list(VERIFY_TEXTS), normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False)
    cosines = {}
    for variant, floor in (("fp32", MIN_FP32_COSINE), ("int8", MIN_INT8_COSINE)):
        embedder = OnnxEmbedder(folder, variant=variant, query_prefix="", passage_prefix="", check_export=False)
        got = embedder.embed_passages(list(VERIFY_TEXTS))
        cosine = float(np.min(np.sum(got * want, axis=1)))
        if cosine < floor:
            raise ExportError(f"ONNX {variant} disagrees with PyTorch: min cosine {cosine:.5f} < {floor}")
        cosines[variant] = round(cosine, 6)
    logger.info("verified against PyTorch: min cosine %s", cosines)
    return cosines
