"""ONNX Runtime embedder: the exported e5 graph (fp32 or int8) with the model's fast tokenizer.

The folder is written by ``rag setup`` (:mod:`rag.models.export_onnx`); the graph already
pools and normalises, so this module only tokenises, batches and runs it. Serving with it
imports neither torch nor transformers.

Passages are sorted by token count and cut into batches by a token budget (rows x padded
length) rather than by a count: a batch of similar lengths wastes no compute on padding,
and long passages come in small batches, short ones in large ones. The int8 graph runs
one passage at a time (see ``OnnxEmbedder.__init__``), on as many passages side by side
as there are cores, each run on one thread (see ``workers``).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, Literal

import numpy as np

from rag.cpus import usable_cpus
from rag.models.export_onnx import OnnxFiles, is_exported

log = logging.getLogger(__name__)

Variant = Literal["fp32", "int8"]

# Padded tokens per batch. Measured on two cores over the bundled corpus (mean 239 tokens a
# chunk, int8): 19.3 chunks/s at 512 tokens (one or two chunks a batch), 18.5 at 1024, 16.5
# at 4096, 14.6 at 16384: small batches keep a layer's activations in the 1 MB L2 cache.
TOKEN_BUDGET = 512
MAX_BATCH_ROWS = 64
# Load-time fusions left out: the exported graphs keep Add + LayerNormalization because
# ONNX Runtime's SkipLayerNormalization CPU kernel is ~6x slower than them (see
# rag.models.export_onnx._fuse); without this the session fuses them back at load.
# Measured interleaved on 48 bundled chunks, int8, two workers: 1.28x the chunks/s.
DISABLED_OPTIMIZERS = ("SkipLayerNormFusion",)


class OnnxEmbedder:
    """Implements :class:`rag.embed.base.Embedder` over an exported ONNX folder."""

    def __init__(
        self,
        folder: str | Path,
        variant: Variant = "int8",
        query_prefix: str = "query: ",
        passage_prefix: str = "passage: ",
        name: str | None = None,
        token_budget: int = TOKEN_BUDGET,
        max_batch_rows: int = MAX_BATCH_ROWS,
        threads: int | None = None,
        workers: int | None = None,
        *,
        check_export: bool = True,
    ) -> None:
        """Cheap: nothing is read until :meth:`warm_up`. ``check_export=False`` skips the
        marker check (the exporter verifies its own folder before the marker exists)."""
        if variant not in ("fp32", "int8"):
            raise ValueError(f"variant must be fp32 or int8, not {variant!r}")
        self.files = OnnxFiles(Path(folder))
        self.variant: Variant = variant
        self.name = name or f"{self.files.folder}#{variant}"
        self.query_prefix = query_prefix
        self.passage_prefix = passage_prefix
        self.token_budget = max(token_budget, 1)
        # int8: one passage per run. Its graph has no attention mask (ONNX Runtime's flash
        # attention runs only without one), so a padded row would attend to the padding;
        # and dynamic quantization scales each run's activations by the run's own range, so
        # in a batch a passage's vector would depend on its neighbours (cosine ~0.998
        # between groupings); alone it is the same in every ingest. It costs nothing: one
        # or two rows a batch is the fastest anyway (see TOKEN_BUDGET).
        self.max_batch_rows = 1 if variant == "int8" else max(max_batch_rows, 1)
        self.threads = max(threads or usable_cpus(), 1)
        # One-passage runs side by side, one thread each, rather than one after another with
        # every operator split over all cores (and the threads spinning between operators):
        # measured interleaved on 64 bundled chunks (int8, machine shared with other jobs),
        # 1.71x the chunks/s of one run on two spinning threads, about even with two that do
        # not spin, and immune to a neighbour taking a core. A run is one passage, so no
        # vector depends on which worker or which neighbours it had.
        if workers is None:
            workers = self.threads if self.max_batch_rows == 1 else 1
        self.workers = min(max(workers, 1), self.threads)
        self.check_export = check_export
        self._pool: ThreadPoolExecutor | None = None
        self._session: Any = None
        self._tokenizer: Any = None
        self._dimension: int | None = None
        self._lock = threading.Lock()

    @property
    def is_loaded(self) -> bool:
        return self._session is not None

    @property
    def model_path(self) -> Path:
        return self.files.int8 if self.variant == "int8" else self.files.fp32

    def warm_up(self) -> None:
        """Load the tokenizer and the ONNX session (once; later calls return at once)."""
        with self._lock:
            if self._session is not None:
                return
            if self.check_export and not is_exported(self.files.folder):
                raise FileNotFoundError(
                    f"ONNX 模型不存在或不完整：{self.files.folder}；请运行 `rag setup` "
                    f"(ONNX export missing or incomplete; run `rag setup`)"
                )
            import onnxruntime as ort
            from tokenizers import Tokenizer

            config = json.loads(self.files.config.read_text(encoding="utf-8"))
            tokenizer = Tokenizer.from_file(str(self.files.tokenizer))
            tokenizer.enable_truncation(int(config["max_seq_length"]))
            tokenizer.no_padding()  # padding is done per batch, to the batch's longest row
            options = ort.SessionOptions()
            options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.intra_op_num_threads = max(self.threads // self.workers, 1)
            options.inter_op_num_threads = 1
            log.info(
                "loading ONNX embedder %s (%d threads, %d batches at a time)", self.model_path, self.threads, self.workers
            )
            self._session = open_session(self.model_path, options)
            self._tokenizer = tokenizer
            self._dimension = int(config["dimension"])

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="onnx-embed")
            return self._pool

    def _ready(self) -> None:
        if self._session is None:
            log.info("embedding before warm_up(): loading the model now")
            self.warm_up()

    @property
    def dimension(self) -> int:
        self._ready()
        assert self._dimension is not None
        return self._dimension

    def embed_passages(self, texts: list[str], show_progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dimension), dtype=np.float32)
        return self._embed([self.passage_prefix + t for t in texts])

    def embed_query(self, text: str) -> np.ndarray:
        return self._embed([self.query_prefix + text])[0]

    def _embed(self, texts: list[str]) -> np.ndarray:
        self._ready()
        ids = [encoding.ids for encoding in self._tokenizer.encode_batch(texts)]
        out = np.empty((len(texts), self.dimension), dtype=np.float32)
        batches = list(token_batches([len(i) for i in ids], self.token_budget, self.max_batch_rows))

        def run(rows: list[int]) -> None:
            width = max(len(ids[r]) for r in rows)
            input_ids = np.ones((len(rows), width), dtype=np.int64)  # 1 = <pad>; masked out anyway
            mask = np.zeros((len(rows), width), dtype=np.int64)
            for k, r in enumerate(rows):
                input_ids[k, : len(ids[r])] = ids[r]
                mask[k, : len(ids[r])] = 1
            (vectors,) = self._session.run(None, {"input_ids": input_ids, "attention_mask": mask})
            out[rows] = vectors

        if self.workers > 1 and len(batches) > 1:
            # Longest first, each worker taking the next batch when it is free: the cores end together.
            list(self._executor().map(run, batches))
        else:
            for rows in batches:
                run(rows)
        # Normalised in the graph already; again in float32 here so every norm is 1 within 1e-6.
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        return out


def open_session(path: Path, options: Any) -> Any:
    """An ONNX Runtime CPU session on ``path`` without :data:`DISABLED_OPTIMIZERS`."""
    import onnxruntime as ort

    return ort.InferenceSession(
        str(path), options, providers=["CPUExecutionProvider"], disabled_optimizers=list(DISABLED_OPTIMIZERS)
    )


def token_batches(lengths: list[int], token_budget: int, max_rows: int) -> Iterator[list[int]]:
    """Row indices grouped longest first into batches of at most ``token_budget`` padded
    tokens (rows x the batch's longest row) and ``max_rows`` rows; a row longer than the
    budget gets a batch of its own."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i], reverse=True)
    batch: list[int] = []
    width = 0
    for i in order:
        # Sorted longest first: the batch's width is that of its first row.
        if batch and ((len(batch) + 1) * width > token_budget or len(batch) >= max_rows):
            yield batch
            batch = []
        if not batch:
            width = max(lengths[i], 1)
        batch.append(i)
    if batch:
        yield batch
