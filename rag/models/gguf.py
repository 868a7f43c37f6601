"""The GGUF header: enough to check that a file is GGUF and to read its key/value metadata
(model architecture, context length, chat template) without loading the model."""

from __future__ import annotations

import os
import struct
from pathlib import Path
from typing import Any, BinaryIO

_GGUF_SCALARS = {
    0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?",
    10: "<Q", 11: "<q", 12: "<d",
}  # fmt: skip
_GGUF_STRING, _GGUF_ARRAY = 8, 9


def _read_exact(f: BinaryIO, n: int) -> bytes:
    b = f.read(n)
    if len(b) != n:
        raise ValueError("truncated GGUF header")
    return b


def _gguf_value(f: BinaryIO, vtype: int, keep_arrays: bool) -> Any:
    if vtype in _GGUF_SCALARS:
        fmt = _GGUF_SCALARS[vtype]
        return struct.unpack(fmt, _read_exact(f, struct.calcsize(fmt)))[0]
    if vtype == _GGUF_STRING:
        (n,) = struct.unpack("<Q", _read_exact(f, 8))
        return _read_exact(f, n).decode("utf-8", errors="replace")
    if vtype == _GGUF_ARRAY:
        etype, n = struct.unpack("<IQ", _read_exact(f, 12))
        if not keep_arrays and etype in _GGUF_SCALARS:
            f.seek(n * struct.calcsize(_GGUF_SCALARS[etype]), os.SEEK_CUR)
            return f"<array of {n}>"
        items = [_gguf_value(f, etype, keep_arrays) for _ in range(n)]
        return items if keep_arrays else f"<array of {n}>"
    raise ValueError(f"unknown GGUF value type {vtype}")


def read_gguf_metadata(path: Path, keep_arrays: bool = False) -> dict[str, Any]:
    """Key/value metadata of a GGUF file (arrays summarised unless ``keep_arrays``)."""
    with open(path, "rb") as f:
        magic, version = struct.unpack("<4sI", _read_exact(f, 8))
        if magic != b"GGUF":
            raise ValueError(f"{path}: not a GGUF file (magic {magic!r})")
        n_tensors, n_kv = struct.unpack("<QQ", _read_exact(f, 16))
        meta: dict[str, Any] = {"gguf.version": version, "gguf.tensor_count": n_tensors}
        for _ in range(n_kv):
            (klen,) = struct.unpack("<Q", _read_exact(f, 8))
            key = _read_exact(f, klen).decode("utf-8", errors="replace")
            (vtype,) = struct.unpack("<I", _read_exact(f, 4))
            meta[key] = _gguf_value(f, vtype, keep_arrays)
    return meta
