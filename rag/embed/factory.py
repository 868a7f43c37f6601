"""The embedder the settings name: sentence-transformers (torch) or ONNX Runtime (fp32, int8).

One place decides which backend runs and what the index manifest calls its vectors
(:func:`embedder_name`), so ingest and search agree on both.

Index compatibility: the manifest records :func:`embedder_name`. ``torch`` and ``onnx``
compute the same fp32 network (cosine >= 0.9999), so they share a name and an index built
by one is reused, vectors and all, by the other. ``onnx-int8`` vectors differ slightly
(cosine ~0.997 with per-channel weights), so its name carries ``#int8``: an ingest after a
switch re-embeds everything (an index never mixes vectors of two backends). Searching an
index built by another backend of the same model is allowed (:func:`check_index_embedder`
logs it): measured on the dev set, recall@5 and MRR@10 stay within 0.01 either way
(bench/embed_throughput.py). A different model, whose vectors mean nothing to this one,
is refused.
"""

from __future__ import annotations

import logging
from functools import lru_cache
from pathlib import Path

from rag.config import Settings
from rag.embed.base import Embedder
from rag.errors import ConfigError

log = logging.getLogger(__name__)

INT8_SUFFIX = "#int8"


def embedder_name(settings: Settings) -> str:
    """What the index manifest records for the vectors these settings produce."""
    if settings.embedding_base_url:  # a remote endpoint: its model decides (rag.embed.remote)
        return settings.embedding_model or settings.embedding_base_url
    base = settings.embedding_model_path
    return base + INT8_SUFFIX if settings.embedding_backend == "onnx-int8" else base


def onnx_folder(settings: Settings) -> Path:
    """The exported ONNX folder of the configured model (written by ``rag setup``)."""
    from rag.models.export_onnx import onnx_dir_for

    return onnx_dir_for(Path(settings.embedding_model_path))


def embedder_from_settings(settings: Settings) -> Embedder:
    """The process-wide embedder for these settings (not loaded yet: call warm_up())."""
    if settings.embedding_base_url:
        return _cached_remote(settings.embedding_base_url, settings.embedding_model, settings.embedding_api_key,
                              settings.embedding_query_prefix, settings.embedding_passage_prefix,
                              settings.embedding_batch_size)
    if settings.embedding_backend == "torch":
        from rag.embed.sentence_transformer import cached_sentence_transformer

        return cached_sentence_transformer(
            settings.embedding_model_path,
            settings.embedding_query_prefix,
            settings.embedding_passage_prefix,
            settings.embedding_batch_size,
            settings.embedding_device,
        )
    if not Path(settings.embedding_model_path).is_dir():
        raise ConfigError(
            f"RAG_EMBEDDING_BACKEND={settings.embedding_backend} 需要本地模型文件夹 "
            f"(needs a local model folder; {settings.embedding_model_path!r} is not one): "
            "use RAG_EMBEDDING_BACKEND=torch for a hub model name"
        )
    variant = "int8" if settings.embedding_backend == "onnx-int8" else "fp32"
    return _cached_onnx(
        str(onnx_folder(settings)),
        variant,
        settings.embedding_query_prefix,
        settings.embedding_passage_prefix,
        embedder_name(settings),
    )


@lru_cache(maxsize=4)
def _cached_onnx(folder: str, variant: str, qp: str, pp: str, name: str) -> Embedder:
    """One session per process: loading takes a second, queries take milliseconds."""
    from rag.embed.onnx import OnnxEmbedder

    return OnnxEmbedder(folder, variant, qp, pp, name=name)  # type: ignore[arg-type]


@lru_cache(maxsize=4)
def _cached_remote(base_url: str, model: str, api_key: str, qp: str, pp: str, batch: int) -> Embedder:
    from rag.embed.remote import RemoteEmbedder

    return RemoteEmbedder(base_url, model, api_key, qp, pp, batch)


def same_model(index_embedder: str, name: str) -> bool:
    """True when two manifest names are one model, whatever its backend."""
    return index_embedder.removesuffix(INT8_SUFFIX) == name.removesuffix(INT8_SUFFIX)


def check_index_embedder(index_embedder: str, embedder: Embedder) -> None:
    """Before searching an index with ``embedder``: ``ConfigError`` if the index holds
    vectors of another model; a log line if only the backend differs (compatible)."""
    if index_embedder == embedder.name:
        return
    if same_model(index_embedder, embedder.name):
        log.info("index embedded with %s, queries with %s: same model, compatible", index_embedder, embedder.name)
        return
    raise ConfigError(
        f"索引的向量来自另一个模型 {index_embedder}，当前模型为 {embedder.name}；请重新导入 (rag ingest) "
        f"(index built with another embedding model; re-ingest)"
    )
