"""From files to a persistent index, incrementally: only new or changed files are embedded."""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from tqdm import tqdm

from rag.config import Settings, get_settings
from rag.embed.base import Embedder
from rag.errors import IndexNotFoundError
from rag.fileutil import sha256_file
from rag.index.store import FileRecord, IndexData, Manifest, load_index, write_index, writer_lock
from rag.index.tokenize import tokenize
from rag.ingest.chunk import chunk_article
from rag.ingest.loaders import SUPPORTED_SUFFIXES, LoaderError, load_file
from rag.ingest.segment import segment_document
from rag.ingest.tables import find_tables, source_cells
from rag.types import Article, Chunk

log = logging.getLogger(__name__)


@dataclass
class IngestReport:
    files: int = 0
    articles: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    files_changed: list[str] = field(default_factory=list)
    files_removed: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)  # file -> reason
    per_file: dict[str, FileRecord] = field(default_factory=dict)
    seconds: float = 0.0


def pipeline_fingerprint() -> str:
    """Changes whenever the code that turns files into chunks changes, so stale chunks are redone."""
    from rag import wordlists
    from rag.index import tokenize as tokenize_module
    from rag.ingest import chunk, clean, loaders, segment, tables
    from rag.text import markers, sentences

    digest = hashlib.sha256()
    # The sentence splitter (and the marker syntax it reads) decide chunk boundaries too.
    for module in (loaders, clean, segment, chunk, tables, tokenize_module, sentences, markers):
        digest.update(Path(module.__file__).read_bytes())
    # Data files the table detector reads are code too.
    digest.update(Path(wordlists.__file__).with_name("table_notes.txt").read_bytes())
    return digest.hexdigest()[:16]


def discover(paths: Iterable[Path]) -> dict[str, Path]:
    """Map display names to files. Folders are walked; names are relative to the folder."""
    found: dict[str, Path] = {}
    for path in paths:
        path = Path(path)
        if path.is_dir():
            for file in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                found[file.relative_to(path).as_posix()] = file
        elif path.is_file():
            found[path.name] = path
        else:
            raise FileNotFoundError(f"no such file or folder: {path}")
    return found


def _articles_with_sources(path: Path, name: str) -> list[tuple[Article, dict[str, str]]]:
    """Each article with its document's source lines that still have their tabs (for tables)."""
    pairs: list[tuple[Article, dict[str, str]]] = []
    for doc in load_file(path, name):
        source = source_cells(doc.text)
        for article in segment_document(doc):
            article.index = len(pairs)
            pairs.append((article, source))
    return pairs


def articles_from_file(path: Path, name: str) -> list[Article]:
    return [article for article, _ in _articles_with_sources(path, name)]


def chunks_from_file(path: Path, name: str, settings: Settings) -> tuple[list[Article], list[Chunk]]:
    pairs = _articles_with_sources(path, name)
    chunks = [
        chunk
        for article, source in pairs
        for chunk in chunk_article(
            article, settings.chunk_size, settings.chunk_overlap, settings.chunk_max_size,
            tables=find_tables(article.text, source),
        )
    ]
    return [article for article, _ in pairs], chunks


def ingest(
    paths: Iterable[Path] | None = None,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    on_progress: Callable[[str, float], None] | None = None,
) -> IngestReport:
    """Bring the index in line with the files under `paths` (default: the bundled corpus).

    Files whose content hash is unchanged reuse their stored chunks and vectors;
    files no longer present are dropped. The new index replaces the old atomically.
    """
    settings = settings or get_settings()
    index_dir = Path(index_dir or settings.index_dir)
    if settings.store != "embedded":  # RAG_STORE=milvus: same semantics, by file hash (rag.stores.ingest)
        from rag.stores.factory import open_store
        from rag.stores.ingest import ingest_into_store

        return ingest_into_store(open_store(settings, index_dir), paths or [settings.corpus_dir], settings,
                                 embedder, progress, on_progress, lock_dir=index_dir)
    began = time.perf_counter()
    report = IngestReport()
    files = discover(paths or [settings.corpus_dir])
    fingerprint = pipeline_fingerprint()
    chunking = {"size": settings.chunk_size, "overlap": settings.chunk_overlap, "max_size": settings.chunk_max_size}

    with writer_lock(index_dir):
        try:
            previous: IndexData | None = load_index(index_dir)
        except IndexNotFoundError:
            previous = None
        # What the embedder about to be built will call its vectors (its backend included).
        from rag.embed.factory import embedder_name as configured_name

        embedder_name = embedder.name if embedder is not None else configured_name(settings)

        def get_embedder() -> Embedder:
            # Loaded only when something needs embedding: an unchanged corpus re-ingests in seconds.
            nonlocal embedder
            if embedder is None:
                from rag.embed.sentence_transformer import embedder_from_settings

                embedder = embedder_from_settings(settings)
            return embedder

        # Vectors are reusable per chunk id (a content hash) while the embedder is the same;
        # whole files are reusable when the chunking code and parameters are the same too.
        same_embedder = previous is not None and previous.manifest.embedder == embedder_name
        dimension = previous.manifest.dimension if same_embedder and previous else get_embedder().dimension
        same_chunking = same_embedder and (
            previous.manifest.chunking == chunking and previous.manifest.pipeline == fingerprint
        )
        if previous is not None and not same_chunking:
            log.info("embedder, chunking or pipeline code changed: re-chunking every file")
        old_vectors = previous.vectors() if same_embedder and previous is not None else None

        manifest = Manifest(
            embedder=embedder_name, dimension=dimension, chunking=chunking, pipeline=fingerprint
        )
        all_chunks: list[Chunk] = []
        all_tokens: list[list[str]] = []
        vector_parts: list[np.ndarray] = []
        to_embed: list[int] = []  # positions in all_chunks that need new vectors

        bar = tqdm(sorted(files.items()), desc="reading", unit="file", disable=not progress)
        for step, (name, path) in enumerate(bar):
            if on_progress:
                on_progress(f"reading {name}", step / max(len(files), 1) * 0.3)
            if path.suffix.lower() not in SUPPORTED_SUFFIXES:
                report.errors[name] = f"unsupported file type {path.suffix or '(none)'!r}"
                log.warning("skipped %s: %s", path, report.errors[name])
                continue
            sha = sha256_file(path)
            old_record = previous.manifest.files.get(name) if same_chunking and previous else None
            if old_record is not None and old_record.sha256 == sha and old_vectors is not None:
                rows = previous.rows_for_file(name)
                all_chunks.extend(previous.chunks[i] for i in rows)
                all_tokens.extend(previous.tokens[i] for i in rows)
                vector_parts.append(old_vectors[rows])
                manifest.files[name] = old_record
                continue
            try:
                articles, chunks = chunks_from_file(path, name, settings)
            except LoaderError as exc:
                report.errors[name] = str(exc)
                log.warning("skipped %s: %s", path, exc)
                continue
            if not chunks:
                report.errors[name] = "no text found after cleaning"
                log.warning("skipped %s: no text found after cleaning", path)
                continue
            report.files_changed.append(name)
            file_vectors = np.zeros((len(chunks), dimension), dtype=np.float32)
            for offset, chunk in enumerate(chunks):
                old_row = previous.by_id.get(chunk.chunk_id) if old_vectors is not None and previous else None
                if old_row is not None:
                    file_vectors[offset] = old_vectors[old_row]
                else:
                    to_embed.append(len(all_chunks) + offset)
            all_chunks.extend(chunks)
            all_tokens.extend(tokenize(c.indexed_text) for c in chunks)
            vector_parts.append(file_vectors)
            manifest.files[name] = FileRecord(sha256=sha, articles=len(articles), chunks=len(chunks), size=path.stat().st_size)

        vectors = (
            np.concatenate(vector_parts) if vector_parts else np.zeros((0, dimension), dtype=np.float32)
        )
        if to_embed:
            if on_progress:
                on_progress(f"embedding {len(to_embed)} chunks", 0.3)
            batch = max(settings.embedding_batch_size, 1)
            with tqdm(total=len(to_embed), desc="embedding", unit="chunk", disable=not progress) as ebar:
                for start in range(0, len(to_embed), batch):
                    positions = to_embed[start : start + batch]
                    vectors[positions] = get_embedder().embed_passages([all_chunks[p].indexed_text for p in positions])
                    ebar.update(len(positions))
                    if on_progress:
                        on_progress("embedding", 0.3 + 0.7 * (start + len(positions)) / len(to_embed))

        old_files = set(previous.manifest.files) if previous else set()
        report.files_removed = sorted(old_files - set(manifest.files))
        changed = bool(to_embed) or bool(report.files_removed) or bool(report.files_changed) or previous is None
        if changed:
            write_index(index_dir, manifest, all_chunks, all_tokens, vectors)
        report.files = len(manifest.files)
        report.per_file = manifest.files
        report.articles = sum(r.articles for r in manifest.files.values())
        report.chunks = len(all_chunks)
        report.chunks_embedded = len(to_embed)
        report.seconds = time.perf_counter() - began
        if on_progress:
            on_progress("done", 1.0)
        return report
