"""Transcode the shipped Q4_K_M GGUF into Q4_0 or Q8_0 of the same weights.

Why: prompt evaluation of the 1.5B Q4_K_M runs at ~55-60 tokens/s on 2 cores, which caps
the evidence the local model can read.  llama.cpp repacks Q4_0 (and some other types)
into interleaved layouts for AVX2/AVX-512 at load time, and Q8_0 needs no unpacking of
sub-block scales, so either may evaluate prompts faster; ``bench/llm_quant.py`` measures it.

How: the `gguf` package reads the source file (memory-mapped), dequantizes every
quantized weight (Q4_K, Q5_0, Q6_K, Q8_0, ...) to float32 with ``gguf.quants.dequantize``
and requantizes it with ``gguf.quants.quantize``.  The type of each tensor follows
llama.cpp's ``llama-quantize`` for the ``Q4_0`` / ``Q8_0`` file types
(src/llama-quant.cpp, ``tensor_allows_quantization`` and ``llama_tensor_get_type``):

* 1-D tensors, norms (``*_norm.weight``) and biases are copied byte for byte (F32);
* ``output.weight`` (and ``token_embd.weight`` when the model ties the two) gets Q6_K
  in a Q4_0 file and Q8_0 in a Q8_0 file.  The `gguf` package cannot quantize Q6_K, and
  requantizing would only lose bits, so a source output tensor already stored at Q6_K or
  better (Q6_K in the 1.5B, Q8_0 in the 0.5B) is copied as it is;
* every other 2-D weight, ``token_embd.weight`` included, gets the file type;
* a tensor already of its target type is copied byte for byte (no second rounding).

Every metadata key (tokenizer, chat template, hyper-parameters) is copied with its
value type; only ``general.file_type`` changes.  The output is written to a temp file in
the same folder, read back and checked, then renamed into place.  ``ensure_transcoded``
is the idempotent entry point of ``rag setup --quant``: it records the result's sha256
(and the source's) in a ``<file>.sha256.json`` sidecar like the assembled models.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from filelock import FileLock

from rag.fileutil import fsync_dir, sha256_file

log = logging.getLogger(__name__)

# Bumped whenever the recipe below changes, so that older outputs are rebuilt.
RECIPE_VERSION = 1

# Elements dequantized/requantized at a time: bounds the float32 working set (~64 MiB
# plus numpy temporaries) on a shared machine; the 151936x1536 embedding is 933 MB in F32.
_CHUNK_ELEMENTS = 16 * 1024 * 1024


class TranscodeError(RuntimeError):
    """The source is not a GGUF we can transcode, or the result failed its check."""


@dataclass(frozen=True)
class QuantTarget:
    """One output file type: its name in file names and CLI options, the ggml tensor type
    of its weights, the type of the output projection, and ``general.file_type``."""

    name: str
    weight_type: Any  # gguf.GGMLQuantizationType (gguf is imported lazily)
    output_type: Any
    file_type: int  # gguf.LlamaFileType value


def targets() -> dict[str, QuantTarget]:
    """The supported targets by name (``q4_0``, ``q8_0``)."""
    from gguf import GGMLQuantizationType as T
    from gguf import LlamaFileType as F

    return {
        "q4_0": QuantTarget("q4_0", T.Q4_0, T.Q6_K, int(F.MOSTLY_Q4_0)),
        "q8_0": QuantTarget("q8_0", T.Q8_0, T.Q8_0, int(F.MOSTLY_Q8_0)),
    }


QUANT_NAMES = ("q4_0", "q8_0")


def parse_quants(text: str) -> list[str]:
    """``"q4_0,q8_0"`` -> ``["q4_0", "q8_0"]``; ``""``/``"none"`` -> ``[]``; unknown names raise."""
    names = [p.strip().lower() for p in text.split(",") if p.strip()]
    if names in ([], ["none"]):
        return []
    unknown = [n for n in names if n not in QUANT_NAMES]
    if unknown:
        raise ValueError(f"未知的量化类型 (unknown quantization) {', '.join(unknown)}; "
                         f"expected {', '.join(QUANT_NAMES)} or none")
    return list(dict.fromkeys(names))


def transcoded_name(source_name: str, quant: str) -> str:
    """``qwen2.5-coder-1.5b-instruct-q4_k_m.gguf`` -> ``qwen2.5-coder-1.5b-instruct-q4_0.gguf``."""
    stem = source_name[:-len(".gguf")] if source_name.endswith(".gguf") else source_name
    for suffix in ("-q4_k_m", "-q4_k_s", "-q5_k_m", "-q8_0", "-q4_0", "-f16"):
        if stem.lower().endswith(suffix):
            stem = stem[: -len(suffix)]
            break
    return f"{stem}-{quant}.gguf"


# --- the recipe ---------------------------------------------------------------------

# Bits per weight of the ggml types a source output tensor may already have; used to
# keep one that is at least as precise as the recipe's output type instead of rounding
# it again.  Values from ggml's type sizes (block bytes * 8 / block elements).
_BPW = {"F32": 32.0, "F16": 16.0, "BF16": 16.0, "Q8_0": 8.5, "Q6_K": 6.5625, "Q5_1": 6.0,
        "Q5_K": 5.5, "Q5_0": 5.5, "Q4_1": 5.0, "Q4_K": 4.5, "Q4_0": 4.5}  # fmt: skip


def _quantizable(name: str, n_dims: int) -> bool:
    """llama.cpp's tensor_allows_quantization, for the tensors a Qwen2 GGUF has."""
    return n_dims >= 2 and name.endswith("weight") and "_norm.weight" not in name


def planned_type(name: str, src_type: Any, n_dims: int, ncols: int, target: QuantTarget,
                 *, tied_embeddings: bool) -> Any:
    """The ggml type tensor ``name`` gets in a ``target`` file (see the module docstring)."""
    from gguf import GGML_QUANT_SIZES

    if not _quantizable(name, n_dims):
        return src_type
    is_output = name == "output.weight" or (tied_embeddings and name == "token_embd.weight")
    wanted = target.output_type if is_output else target.weight_type
    if is_output and _BPW.get(src_type.name, 0.0) >= _BPW[wanted.name]:
        return src_type  # already as precise as llama.cpp would make it: no second rounding
    block = GGML_QUANT_SIZES[wanted][0]
    if ncols % block:
        # llama.cpp falls back to a type whose block fits; Q8_0/Q4_0 blocks are 32 wide,
        # so only an odd shape lands here: keep the tensor as it is rather than guess.
        log.warning("%s: %d columns not divisible by %d; kept as %s", name, ncols, block,
                    src_type.name)
        return src_type
    return wanted


def _convert(data: np.ndarray, src_type: Any, dst_type: Any, ncols: int) -> np.ndarray:
    """Dequantize ``data`` (the reader's view: one numpy row per tensor row, bytes for
    quantized types) and requantize it to ``dst_type``, a chunk of rows at a time."""
    from gguf import quants

    rows = data.reshape(-1, data.shape[-1])
    step = max(1, _CHUNK_ELEMENTS // ncols)
    parts = [
        quants.quantize(quants.dequantize(np.ascontiguousarray(rows[i:i + step]), src_type),
                        dst_type)
        for i in range(0, rows.shape[0], step)
    ]
    out = np.concatenate(parts, axis=0) if len(parts) > 1 else parts[0]
    return out.reshape((*data.shape[:-1], out.shape[-1]))


# --- transcoding ----------------------------------------------------------------------


@dataclass(frozen=True)
class TranscodeReport:
    source: Path
    output: Path
    quant: str
    seconds: float
    size: int
    sha256: str
    source_sha256: str
    tensor_types: dict[str, int]  # output ggml type name -> number of tensors
    converted: int  # tensors dequantized and requantized
    copied: int  # tensors copied byte for byte


def _copy_metadata(reader: Any, writer: Any, file_type: int) -> None:
    import gguf

    for field in reader.fields.values():
        # GGUF.* are the reader's virtual header fields; the writer adds the architecture.
        if field.name.startswith("GGUF.") or field.name == gguf.Keys.General.ARCHITECTURE:
            continue
        vtype = field.types[0]
        sub_type = field.types[-1] if vtype == gguf.GGUFValueType.ARRAY else None
        value = file_type if field.name == gguf.Keys.General.FILE_TYPE else field.contents()
        writer.add_key_value(field.name, value, vtype, sub_type=sub_type)
    if gguf.Keys.General.FILE_TYPE not in reader.fields:
        writer.add_uint32(gguf.Keys.General.FILE_TYPE, file_type)


def transcode(source: Path, output: Path, quant: str, *,
              progress: Callable[[int, int], None] | None = None,
              only: Iterable[str] | None = None, workers: int | None = None) -> TranscodeReport:
    """Write ``source`` transcoded to ``quant`` (``q4_0``/``q8_0``) at ``output`` (atomic).

    ``only`` keeps just the named tensors (a small file for tests; not loadable by llama.cpp).
    ``progress(done, total)`` is called after each tensor with element counts.
    ``workers`` tensors are converted at once (default: one per core, at most 2).
    """
    import gguf

    try:
        target = targets()[quant]
    except KeyError:
        raise ValueError(f"unknown quantization {quant!r}; expected one of {QUANT_NAMES}") from None
    source, output = Path(source), Path(output)
    t0 = time.monotonic()
    try:
        reader = gguf.GGUFReader(source)
    except (ValueError, OSError) as exc:
        raise TranscodeError(f"无法读取 GGUF 文件 (cannot read GGUF {source}): {exc}") from exc
    arch_field = reader.fields.get(gguf.Keys.General.ARCHITECTURE)
    if arch_field is None:
        raise TranscodeError(f"{source}: no general.architecture")
    arch = str(arch_field.contents())
    keep = set(only) if only is not None else None
    tensors = [t for t in reader.tensors if keep is None or t.name in keep]
    names = {t.name for t in reader.tensors}
    tied = "output.weight" not in names

    plan = []
    for t in tensors:
        n_dims = len(t.shape)
        dst = planned_type(t.name, t.tensor_type, n_dims, int(t.shape[0]), target,
                           tied_embeddings=tied)
        plan.append((t, dst))

    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_name(f".{output.name}.tmp{os.getpid()}")
    writer = gguf.GGUFWriter(tmp, arch, endianess=reader.endianess)
    if reader.alignment != gguf.GGUF_DEFAULT_ALIGNMENT:
        writer.data_alignment = reader.alignment
    converted = copied = 0
    counts: dict[str, int] = {}
    try:
        _copy_metadata(reader, writer, target.file_type)
        for t, dst in plan:
            # Shapes are given in elements (ggml order reversed: numpy rows x columns).
            shape = tuple(int(x) for x in reversed(t.shape))
            block, type_size = gguf.GGML_QUANT_SIZES[dst]
            nbytes = int(t.n_elements) // block * type_size
            writer.add_tensor_info(t.name, shape, np.dtype(np.float32), nbytes, raw_dtype=dst)
        writer.write_header_to_file()
        writer.write_kv_data_to_file()
        writer.write_ti_data_to_file()
        total = sum(int(t.n_elements) for t, _ in plan)
        done = 0
        for (t, dst), data in _tensor_data(plan, workers):
            writer.write_tensor_data(data, tensor_endianess=reader.endianess)
            if dst == t.tensor_type:
                copied += 1
            else:
                converted += 1
            counts[dst.name] = counts.get(dst.name, 0) + 1
            done += int(t.n_elements)
            if progress is not None:
                progress(done, total)
        writer.close()
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        _check_output(tmp, plan, reader)
        digest = sha256_file(tmp)
        os.replace(tmp, output)
    except BaseException:
        writer.close()
        tmp.unlink(missing_ok=True)
        raise
    del reader  # releases the memory map of the source
    with contextlib.suppress(OSError):  # a directory fsync some filesystems refuse
        fsync_dir(output.parent)
    report = TranscodeReport(
        source=source, output=output, quant=quant, seconds=time.monotonic() - t0,
        size=output.stat().st_size, sha256=digest, source_sha256="", tensor_types=counts,
        converted=converted, copied=copied,
    )
    log.info("Transcoded %s -> %s (%s) in %.1fs: %d tensors requantized, %d copied, %.1f MB",
             source.name, output.name, quant, report.seconds, converted, copied, report.size / 1e6)
    return report


def _tensor_data(plan: list[tuple[Any, Any]], workers: int | None
                 ) -> Iterator[tuple[tuple[Any, Any], np.ndarray]]:
    """Each planned tensor's output bytes, in plan order.  numpy releases the GIL in its
    array loops, so a second thread nearly halves the wall time on 2 idle cores; only
    ``workers`` tensors are in flight, which bounds memory."""

    def data(t: Any, dst: Any) -> np.ndarray:
        if dst == t.tensor_type:
            return np.asarray(t.data)  # copied byte for byte
        return _convert(t.data, t.tensor_type, dst, int(t.shape[0]))

    n = max(1, workers if workers is not None else min(2, os.cpu_count() or 1))
    items = iter(plan)
    with ThreadPoolExecutor(max_workers=n) as pool:
        pending: deque[tuple[tuple[Any, Any], Future[np.ndarray]]] = deque(
            (item, pool.submit(data, *item)) for item in itertools.islice(items, n))
        while pending:
            item, fut = pending.popleft()
            nxt = next(items, None)
            if nxt is not None:
                pending.append((nxt, pool.submit(data, *nxt)))
            yield item, fut.result()


def _check_output(path: Path, plan: list[tuple[Any, Any]], reader: Any) -> None:
    """Read the new file back: every tensor with its planned type and element shape, and
    every metadata key of the source (with the same value, file type aside)."""
    import gguf

    out = gguf.GGUFReader(path)
    got = {t.name: t for t in out.tensors}
    if len(got) != len(plan):
        raise TranscodeError(f"{path}: {len(got)} tensors written, {len(plan)} planned")
    for t, dst in plan:
        o = got.get(t.name)
        if o is None or o.tensor_type != dst or list(o.shape) != list(t.shape):
            raise TranscodeError(f"{path}: tensor {t.name} came back as "
                                 f"{None if o is None else (o.tensor_type.name, list(o.shape))}")
    for key, field in reader.fields.items():
        if key.startswith("GGUF.") or key == gguf.Keys.General.FILE_TYPE:
            continue
        other = out.fields.get(key)
        if other is None or other.types != field.types or other.contents() != field.contents():
            raise TranscodeError(f"{path}: metadata {key} not copied faithfully")


# --- set-up: idempotent, recorded -----------------------------------------------------


def _sidecar(path: Path) -> Path:
    return path.with_name(path.name + ".sha256.json")


def _read_sidecar(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(_sidecar(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def is_transcoded(output: Path, source_sha256: str) -> bool:
    """True when ``output`` exists and its sidecar says it was made from the source with
    this hash by the current recipe (and the file's size and mtime still match)."""
    data = _read_sidecar(output)
    try:
        st = output.stat()
    except OSError:
        return False
    return bool(
        data
        and data.get("source_sha256") == source_sha256
        and data.get("recipe") == RECIPE_VERSION
        and data.get("size") == st.st_size
        and data.get("mtime_ns") == st.st_mtime_ns
        and data.get("sha256")
    )


def _write_sidecar(report: TranscodeReport) -> None:
    st = report.output.stat()
    data = {
        "sha256": report.sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns,
        "source": report.source.name, "source_sha256": report.source_sha256,
        "quant": report.quant, "recipe": RECIPE_VERSION, "gguf": _gguf_version(),
        "tensor_types": report.tensor_types,
    }  # fmt: skip
    tmp = _sidecar(report.output).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, _sidecar(report.output))


def _gguf_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gguf")
    except PackageNotFoundError:
        return "unknown"


def _source_sha256(source: Path) -> str:
    """The source's sha256: from its verified assembly sidecar when that still matches
    the file, else hashed now."""
    data = _read_sidecar(source)
    st = source.stat()
    if data and data.get("size") == st.st_size and data.get("mtime_ns") == st.st_mtime_ns:
        return str(data["sha256"])
    return sha256_file(source)


def ensure_transcoded(source: Path, quant: str) -> Path:
    """``source`` transcoded to ``quant`` next to it; builds it only when missing or stale.

    Returns the output path.  Safe against concurrent callers (file lock).
    """
    source = Path(source)
    if quant not in QUANT_NAMES:
        raise ValueError(f"unknown quantization {quant!r}; expected one of {QUANT_NAMES}")
    if not source.is_file():
        raise FileNotFoundError(f"找不到源模型文件 (source GGUF not found: {source})")
    output = source.with_name(transcoded_name(source.name, quant))
    src_hash = _source_sha256(source)
    if is_transcoded(output, src_hash):
        log.debug("%s already transcoded", output)
        return output
    lock_dir = source.parent / ".parts"
    lock_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(lock_dir / f"{output.name}.lock"):
        if is_transcoded(output, src_hash):
            return output
        log.info("Transcoding %s to %s (several minutes on 2 cores)", source.name, quant)
        report = transcode(source, output, quant, progress=_progress_bar(output.name))
        report = _with_source_hash(report, src_hash)
        _write_sidecar(report)
    return output


def _with_source_hash(report: TranscodeReport, src_hash: str) -> TranscodeReport:
    from dataclasses import replace

    return replace(report, source_sha256=src_hash)


def _progress_bar(label: str) -> Callable[[int, int], None]:
    from tqdm import tqdm

    bar: dict[str, Any] = {}

    def update(done: int, total: int) -> None:
        if "bar" not in bar:
            bar["bar"] = tqdm(total=total, unit="w", unit_scale=True, desc=f"transcode {label}",
                              disable=None)
        b = bar["bar"]
        b.update(done - b.n)
        if done >= total:
            b.close()

    return update
