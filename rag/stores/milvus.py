"""The Milvus store: one collection of chunks (dense vector + BM25 sparse vector from a
server-side ``Function`` over the text, jieba analyser) and a small metadata collection
(the manifest, one row per file with its hash, and the live version name).

``RAG_MILVUS_URI`` ending in ``.db`` is Milvus Lite: an in-process server on that folder,
for one process at a time (its data folder is locked). ``http://host:19530`` is a Milvus
standalone or distributed cluster, shared by every ``rag serve`` replica.

Incremental semantics are those of the embedded store, by file hash: a changed file's new
chunks are upserted under primary keys carrying the file's sha256, then the rows of its
older hash are deleted, so the file is never missing in between (at worst briefly
doubled). Unlike the embedded folder there is no snapshot per version: a search during an
ingest may see some files already updated. ``commit`` writes the manifest and a new
version name last; servers rebuild their IDF table and chunk list when it changes.

Every request uses Strong consistency: an answer right after an ingest must see it, and
the cost (waiting for the latest timestamp) is small next to embedding the query.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rag.config import Settings
from rag.errors import RagError
from rag.index.manifest import FileRecord, Manifest
from rag.index.tokenize import STOPWORDS
from rag.retrieve.base import SearchFilters
from rag.stores.base import Fusion, StoreHit, filter_expression, normalise_for_bm25
from rag.types import Chunk

log = logging.getLogger(__name__)

CONSISTENCY = "Strong"
BM25_K1, BM25_B = 1.5, 0.75  # bm25s's defaults
MANIFEST_KEY = "manifest"
FILE_KEY = "file:"
# Chunk fields stored as they are (the offsets are renamed: "start"/"end" read badly in expressions).
_STRING_FIELDS = ("chunk_id", "file", "title", "section", "byline", "source", "text", "date", "display_text")
_OUTPUT_FIELDS = [*_STRING_FIELDS, "article_index", "start_offset", "end_offset"]
# Byte limits of the VARCHAR fields (Milvus counts UTF-8 bytes); long ones for the texts.
_MAX_BYTES = {"chunk_id": 128, "file": 4096, "title": 4096, "section": 1024, "byline": 4096, "source": 4096,
              "text": 65535, "date": 256, "display_text": 65535, "tokens": 65535, "search_text": 65535}
_PAGE = 1000  # rows per insert or query request
_WINDOW = 16384  # Milvus's largest query or search result


def analyzer_params() -> dict[str, Any]:
    """jieba in search mode (the segmentation rag.index.tokenize uses), lower-cased, with the
    project's stop words, so Milvus's BM25 terms are close to the embedded store's."""
    return {
        "tokenizer": {"type": "jieba", "mode": "search"},
        "filter": ["lowercase", {"type": "stop", "stop_words": sorted(STOPWORDS)}],
    }


class MilvusStoreError(RagError):
    """Milvus cannot be reached or refused a request."""


class MilvusStore:
    kind = "milvus"

    def __init__(self, uri: str, collection: str = "rag_chunks", token: str = ""):
        self.uri = uri
        self.collection = collection
        self.meta_collection = f"{collection}_meta"
        self.token = token
        self._client: Any = None
        self._lock = threading.Lock()
        self._pending_files: dict[str, FileRecord | None] = {}  # file -> new record, None = deleted
        self._ready = False  # both collections known to exist

    @classmethod
    def from_settings(cls, settings: Settings) -> MilvusStore:
        return cls(settings.milvus_target, settings.milvus_collection, settings.milvus_token)

    @property
    def is_lite(self) -> bool:
        return self.uri.endswith(".db")

    # ---------------------------------------------------------------- connection
    def warm_up(self) -> None:
        self._connect()

    def _connect(self) -> Any:
        with self._lock:
            if self._client is None:
                from pymilvus import MilvusClient
                from pymilvus.exceptions import MilvusException

                if self.is_lite:
                    Path(self.uri).parent.mkdir(parents=True, exist_ok=True)
                try:
                    self._client = MilvusClient(uri=self.uri, token=self.token)
                except MilvusException as exc:
                    raise MilvusStoreError(
                        f"无法连接 Milvus {self.uri}：{_reason(exc)} (cannot connect to Milvus at {self.uri}; "
                        "check RAG_MILVUS_URI and RAG_MILVUS_TOKEN; a Milvus Lite .db file serves one process at a time)"
                    ) from None
                log.info("connected to Milvus %s (collection %s)", self.uri, self.collection)
                # After a restart collections come back released; searching needs them loaded
                # (a no-op for collections another process keeps loaded).
                for name in (self.collection, self.meta_collection):
                    if self._client.has_collection(name):
                        self._call("加载", self._client.load_collection, name)
            return self._client

    def close(self) -> None:
        with self._lock:
            client, self._client = self._client, None
        self._ready = False
        if client is not None:
            client.close()
            if self.is_lite:
                # Milvus Lite runs in this process: stop it so the folder can be opened again.
                from milvus_lite.server_manager import server_manager_instance

                server_manager_instance.release_server(self.uri)

    def _call(self, what: str, fn: Any, *args: Any, **kwargs: Any) -> Any:
        from pymilvus.exceptions import MilvusException

        try:
            return fn(*args, **kwargs)
        except MilvusException as exc:
            raise MilvusStoreError(f"Milvus {what}失败：{_reason(exc)} (Milvus {what} failed: {_reason(exc)})") from None

    def _exists(self) -> bool:
        # Once seen, remembered: every search would otherwise pay two extra round trips.
        if not self._ready:
            client = self._connect()
            self._ready = bool(client.has_collection(self.collection)) and bool(client.has_collection(self.meta_collection))
        return self._ready

    # ---------------------------------------------------------------- schema
    def _create(self, dimension: int) -> None:
        from pymilvus import DataType, Function, FunctionType, MilvusClient

        client = self._connect()
        schema = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("pk", DataType.VARCHAR, is_primary=True, max_length=256)
        schema.add_field("file_sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("position", DataType.INT64)
        for name in _STRING_FIELDS:
            schema.add_field(name, DataType.VARCHAR, max_length=_MAX_BYTES[name])
        for name in ("article_index", "start_offset", "end_offset"):
            schema.add_field(name, DataType.INT64)
        schema.add_field("tokens", DataType.VARCHAR, max_length=_MAX_BYTES["tokens"])  # JSON list, for the IDF table
        schema.add_field(
            "search_text", DataType.VARCHAR, max_length=_MAX_BYTES["search_text"],
            enable_analyzer=True, analyzer_params=analyzer_params(),
        )
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dimension)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(
            name="search_text_bm25", function_type=FunctionType.BM25,
            input_field_names=["search_text"], output_field_names=["sparse"],
        ))
        index = client.prepare_index_params()
        # FLAT on Lite (exact, as FAISS's flat index is); a server picks its own ANN index.
        index.add_index("dense", index_type="FLAT" if self.is_lite else "AUTOINDEX", metric_type="IP")
        # k1 and b of bm25s's Lucene BM25, so scores (and RAG_MIN_BM25_SCORE) mean the same.
        index.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25",
                        params={"bm25_k1": BM25_K1, "bm25_b": BM25_B})
        index.add_index("file", index_type="INVERTED")
        self._create_one(self.collection, schema, index)

        meta = MilvusClient.create_schema(auto_id=False, enable_dynamic_field=False)
        meta.add_field("key", DataType.VARCHAR, is_primary=True, max_length=4200)
        meta.add_field("value", DataType.VARCHAR, max_length=65535)
        meta.add_field("vec", DataType.FLOAT_VECTOR, dim=2)  # Milvus wants a vector field in every collection
        meta_index = client.prepare_index_params()
        meta_index.add_index("vec", index_type="FLAT", metric_type="L2")
        self._create_one(self.meta_collection, meta, meta_index)
        log.info("created Milvus collections %s and %s (dimension %d)", self.collection, self.meta_collection, dimension)

    def _create_one(self, name: str, schema: Any, index: Any) -> None:
        client = self._connect()
        self._call("建表", client.create_collection, name, schema=schema, consistency_level=CONSISTENCY)
        # sync=False: waiting for an index build asks for a timestamp Milvus Lite does not serve
        # (seconds of retries); the collection is empty, and load_collection waits on a server.
        self._call("建索引", client.create_index, name, index, sync=False)
        self._call("加载", client.load_collection, name)

    # ---------------------------------------------------------------- metadata
    def _meta_get(self, keys: list[str]) -> dict[str, str]:
        if not keys or not self._exists():
            return {}
        rows = self._call("读取", self._connect().get, self.meta_collection, ids=keys, output_fields=["value"])
        return {row["key"]: row["value"] for row in rows}

    def _meta_rows(self, prefix: str) -> dict[str, str]:
        if not self._exists():
            return {}
        flt = f"key like {json.dumps(prefix + '%', ensure_ascii=False)}"
        rows = self._call("读取", self._connect().query, self.meta_collection, filter=flt, output_fields=["key", "value"],
                          limit=_WINDOW)
        return {row["key"]: row["value"] for row in rows}

    def _head(self) -> dict[str, Any] | None:
        value = self._meta_get([MANIFEST_KEY]).get(MANIFEST_KEY)
        return None if value is None else json.loads(value)

    def manifest(self) -> Manifest | None:
        head = self._head()
        if head is None:
            return None
        manifest = Manifest.from_json(json.dumps({**head["manifest"], "files": {}}))
        for key, value in self._meta_rows(FILE_KEY).items():
            manifest.files[key[len(FILE_KEY):]] = FileRecord(**json.loads(value))
        return manifest

    def version(self) -> str | None:
        head = self._head()
        return None if head is None else str(head["version"])

    # ---------------------------------------------------------------- reading whole
    def _rows(self, fields: list[str]) -> list[dict[str, Any]]:
        """Every chunk row, read a group of files at a time with the chunk counts the manifest
        records as limits (a query's window is bounded server-side, and Milvus Lite lacks the
        timestamp call pymilvus's query iterator needs)."""
        manifest = self.manifest()
        if manifest is None:
            return []
        rows: list[dict[str, Any]] = []
        group: list[str] = []
        size = 0
        for name, record in [*sorted(manifest.files.items()), ("", None)]:
            if group and (record is None or size + record.chunks > _WINDOW):
                flt = f"file in {json.dumps(group, ensure_ascii=False)}"
                rows.extend(self._call("读取", self._connect().query, self.collection, filter=flt,
                                       output_fields=[*fields, "file", "position"], limit=max(size, 1)))
                group, size = [], 0
            if record is not None:
                group.append(name)
                size += record.chunks
        rows.sort(key=lambda row: (row["file"], row["position"]))
        return rows

    def chunks(self) -> list[Chunk]:
        return [_chunk(row) for row in self._rows(_OUTPUT_FIELDS)]

    def token_lists(self) -> list[list[str]]:
        return [json.loads(row["tokens"]) for row in self._rows(["file", "tokens"])]

    def chunks_and_tokens(self) -> tuple[list[Chunk], list[list[str]]]:
        """Both lists from one read of the collection (what a server loads per version)."""
        rows = self._rows([*_OUTPUT_FIELDS, "tokens"])
        return [_chunk(row) for row in rows], [json.loads(row["tokens"]) for row in rows]

    def vectors_for(self, chunk_ids: Sequence[str]) -> dict[str, np.ndarray]:
        if not chunk_ids or not self._exists():
            return {}
        found: dict[str, np.ndarray] = {}
        ids = list(dict.fromkeys(chunk_ids))
        for start in range(0, len(ids), _PAGE):
            batch = ids[start : start + _PAGE]
            flt = f"chunk_id in {json.dumps(batch, ensure_ascii=False)}"
            rows = self._call("读取", self._connect().query, self.collection, filter=flt, output_fields=["chunk_id", "dense"],
                              limit=len(batch) * 4)
            for row in rows:
                found[row["chunk_id"]] = np.asarray(row["dense"], dtype=np.float32)
        return found

    # ---------------------------------------------------------------- writing
    def reset(self, dimension: int) -> None:
        client = self._connect()
        self._ready = False
        for name in (self.collection, self.meta_collection):
            if client.has_collection(name):
                self._call("删除", client.drop_collection, name)
        self._create(dimension)
        self._pending_files.clear()

    def replace_file(
        self, name: str, record: FileRecord, chunks: Sequence[Chunk], tokens: Sequence[Sequence[str]], vectors: np.ndarray
    ) -> None:
        if len(chunks) != len(tokens) or len(chunks) != len(vectors):
            raise ValueError("chunks, tokens and vectors must align")
        if any(c.file != name for c in chunks):
            raise ValueError(f"every chunk of {name!r} must name that file")
        client = self._connect()
        if not self._exists():
            self._create(int(np.asarray(vectors).shape[1]) if len(vectors) else 1)
        rows = [_row(c, t, v, record.sha256, position) for position, (c, t, v) in enumerate(zip(chunks, tokens, vectors))]
        for start in range(0, len(rows), _PAGE):
            self._call("写入", client.upsert, self.collection, rows[start : start + _PAGE])
        # The new rows are in: only now drop the file's other rows (an older hash, or chunks the
        # chunking no longer makes), so the file never disappears from search in between.
        keep = json.dumps([row["pk"] for row in rows], ensure_ascii=False)
        flt = f"file == {json.dumps(name, ensure_ascii=False)} and pk not in {keep}"
        self._call("删除", client.delete, self.collection, filter=flt)
        self._pending_files[name] = record

    def delete_file(self, name: str) -> None:
        if not self._exists():
            return
        self._call("删除", self._connect().delete, self.collection, filter=f"file == {json.dumps(name, ensure_ascii=False)}")
        self._pending_files[name] = None

    def commit(self, manifest: Manifest) -> str:
        client = self._connect()
        if not self._exists():
            self._create(manifest.dimension)
        files = {key[len(FILE_KEY):]: FileRecord(**json.loads(v)) for key, v in self._meta_rows(FILE_KEY).items()}
        for name, record in self._pending_files.items():
            if record is None:
                files.pop(name, None)
                self._call("删除", client.delete, self.meta_collection, ids=[FILE_KEY + name])
            else:
                files[name] = record
                self._call("写入", client.upsert, self.meta_collection, [_meta(FILE_KEY + name, json.dumps(vars(record)))])
        self._pending_files.clear()
        manifest.files = dict(sorted(files.items()))
        version = time.strftime("%Y%m%d-%H%M%S") + f"-{os.getpid()}-{time.monotonic_ns() % 10**6:06d}"
        head = json.loads(manifest.to_json())
        head.pop("files")
        # The version name last: readers reload on it, after every other write is in.
        self._call("写入", client.upsert, self.meta_collection,
                   [_meta(MANIFEST_KEY, json.dumps({"version": version, "manifest": head}, ensure_ascii=False))])
        log.info("Milvus store committed version %s: %d files", version, len(files))
        return version

    # ---------------------------------------------------------------- searching
    def _search(self, data: list[Any], field: str, metric: str, n: int, filters: SearchFilters | None) -> list[StoreHit]:
        if n < 1 or not self._exists():
            return []
        result = self._call(
            "检索", self._connect().search, self.collection, data=data, anns_field=field, limit=min(n, _WINDOW),
            filter=filter_expression(filters), output_fields=_OUTPUT_FIELDS, search_params={"metric_type": metric},
        )
        return _hits(result, filters, bm25=metric == "BM25")

    def dense_search(self, vector: np.ndarray, n: int, filters: SearchFilters | None = None) -> list[StoreHit]:
        return self._search([np.asarray(vector, dtype=np.float32).tolist()], "dense", "IP", n, filters)

    def sparse_search(
        self, query: str, n: int, filters: SearchFilters | None = None, tokens: Sequence[str] | None = None
    ) -> list[StoreHit]:
        # Milvus analyses the text itself with the collection's jieba analyser; ``tokens`` are not needed.
        text = normalise_for_bm25(query).strip()
        return self._search([text], "sparse", "BM25", n, filters) if text else []

    def hybrid_search(
        self,
        vector: np.ndarray,
        query: str,
        n: int,
        filters: SearchFilters | None = None,
        fusion: Fusion = "weighted",
        dense_weight: float = 0.4,
        rrf_k: int = 60,
    ) -> list[StoreHit]:
        from pymilvus import AnnSearchRequest, RRFRanker, WeightedRanker

        text = normalise_for_bm25(query).strip()
        if not text:
            return self.dense_search(vector, n, filters)
        if n < 1 or not self._exists():
            return []
        expr = filter_expression(filters)
        limit = min(n, _WINDOW)
        requests = [
            AnnSearchRequest([np.asarray(vector, dtype=np.float32).tolist()], "dense", {"metric_type": "IP"}, limit, expr=expr),
            AnnSearchRequest([text], "sparse", {"metric_type": "BM25"}, limit, expr=expr),
        ]
        ranker = WeightedRanker(dense_weight, 1 - dense_weight) if fusion == "weighted" else RRFRanker(rrf_k)
        result = self._call("检索", self._connect().hybrid_search, self.collection, requests, ranker, limit=limit,
                            output_fields=_OUTPUT_FIELDS)
        return _hits(result, filters, bm25=False)


def _reason(exc: Exception) -> str:
    return str(getattr(exc, "message", "") or exc).splitlines()[0]


def _checked(name: str, value: str) -> str:
    if len(value.encode("utf-8")) > _MAX_BYTES[name]:
        raise ValueError(f"{name} longer than Milvus's {_MAX_BYTES[name]}-byte field: {value[:40]!r}…")
    return value


def _row(chunk: Chunk, tokens: Sequence[str], vector: np.ndarray, sha256: str, position: int) -> dict[str, Any]:
    row: dict[str, Any] = {name: _checked(name, getattr(chunk, name)) for name in _STRING_FIELDS}
    row.update(
        pk=f"{sha256[:16]}:{chunk.chunk_id}",
        file_sha256=sha256,
        position=position,
        article_index=chunk.article_index,
        start_offset=chunk.start,
        end_offset=chunk.end,
        tokens=_checked("tokens", json.dumps(list(tokens), ensure_ascii=False)),
        search_text=_checked("search_text", normalise_for_bm25(chunk.indexed_text)),
        dense=np.asarray(vector, dtype=np.float32).tolist(),
    )
    return row


def _meta(key: str, value: str) -> dict[str, Any]:
    return {"key": key, "value": value, "vec": [0.0, 0.0]}


def _chunk(entity: dict[str, Any]) -> Chunk:
    return Chunk(
        **{name: entity[name] for name in _STRING_FIELDS},
        article_index=int(entity["article_index"]),
        start=int(entity["start_offset"]),
        end=int(entity["end_offset"]),
    )


def _hits(result: Any, filters: SearchFilters | None, bm25: bool) -> list[StoreHit]:
    hits = []
    for hit in result[0] if result else []:
        entity = hit.get("entity") or hit
        # Milvus Lite reports BM25 as a negated distance (smaller is better), a server as the
        # score itself; BM25 scores are never negative, so the magnitude is the score in both.
        # Milvus's BM25 keeps the classic (k1 + 1) factor that Lucene's (and bm25s's) drops:
        # divided out, the scores are on the scale RAG_MIN_BM25_SCORE was calibrated on.
        score = abs(float(hit["distance"])) / (BM25_K1 + 1) if bm25 else float(hit["distance"])
        chunk = _chunk(entity)
        if (filters is None or filters.matches(chunk)) and (score > 0 or not bm25):
            hits.append(StoreHit(chunk, score))
    hits.sort(key=lambda h: -h.score)
    return hits
