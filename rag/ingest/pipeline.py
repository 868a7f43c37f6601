"""From files to a persistent index, incrementally: only new or changed files are embedded."""

from __future__ import annotations

import hashlib
import logging
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rag.config import Settings, get_settings
from rag.embed.base import Embedder
from rag.fileutil import sha256_file
from rag.index.dense_index import DenseIndexSpec, build_index, spec_from_settings
from rag.index.store import FileRecord, Manifest, publish_version, writer_lock
from rag.index.version import ChunkTable, finish_version, read_lexicon
from rag.ingest.batches import EmbeddedBatches
from rag.ingest.chunk import chunk_article
from rag.ingest.loaders import SUPPORTED_SUFFIXES, LoaderError, load_file
from rag.ingest.names import NameFinding, build_lexicon, find_names
from rag.ingest.previous import PreviousVersion, open_previous
from rag.ingest.progress import StageProgress
from rag.ingest.segment import segment_document
from rag.ingest.tables import find_tables, source_cells
from rag.ingest.token_cut import block_cutter
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
    chunks_resumed: int = 0  # embedded by an earlier ingest that was killed before publishing


def pipeline_fingerprint() -> str:
    """Changes whenever the code that turns files into chunks changes, so stale chunks are redone."""
    from rag import wordlists
    from rag.index import tokenize as tokenize_module
    from rag.ingest import chunk, clean, loaders, names, segment, tables
    from rag.text import markers, sentences

    digest = hashlib.sha256()
    # The sentence splitter (and the marker syntax it reads) decide chunk boundaries too.
    for module in (loaders, clean, segment, chunk, tables, names, tokenize_module, sentences, markers):
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


STAGING = "staging"  # index/staging/: the version being built and the persisted batches
READ_SHARE, EMBED_SHARE = 0.1, 0.85  # of the whole ingest's progress; publishing is the rest
VECTOR_BLOCK = 4096  # vectors assembled into the new FAISS index this many at a time


@dataclass
class StagedRows:
    """What reading leaves for embedding and publishing: per row of the new version, the
    previous version's row holding its vector (-1: none), and the rows still to embed."""

    old_rows: list[int] = field(default_factory=list)
    to_embed: list[tuple[int, str]] = field(default_factory=list)  # (row, chunk id)


def read_chunks(
    path: Path, name: str, settings: Settings, report: IngestReport
) -> tuple[list[Article], list[Chunk]] | None:
    """A file's articles and chunks, or None with the reason in ``report.errors`` (unreadable,
    or no text left after cleaning): one bad file never stops an ingest."""
    try:
        articles, chunks = chunks_from_file(path, name, settings)
    except LoaderError as exc:
        report.errors[name] = str(exc)
        log.warning("skipped %s: %s", path, exc)
        return None
    if not chunks:
        report.errors[name] = "no text found after cleaning"
        log.warning("skipped %s: no text found after cleaning", path)
        return None
    return articles, chunks


def ingest(
    paths: Iterable[Path] | None = None,
    index_dir: Path | None = None,
    embedder: Embedder | None = None,
    settings: Settings | None = None,
    progress: bool = True,
    on_progress: Callable[[str, float], None] | None = None,
) -> IngestReport:
    """Bring the index in line with the files under `paths` (default: the bundled corpus).

    Files whose content hash is unchanged reuse their stored chunks and vectors; files no
    longer present are dropped. Three stages in bounded memory: files are read, chunked and
    staged one at a time (index/staging/chunks.sqlite); chunks without a vector are embedded
    in batches, each persisted as it completes (rag.ingest.batches), so an ingest killed
    part-way embeds only the rest when run again; the new version is then assembled from the
    staged rows and published atomically. The live version stays in place until then.
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
        previous = open_previous(index_dir)
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
        reuse = previous if same_embedder else None
        manifest = Manifest(embedder=embedder_name, dimension=dimension, chunking=chunking, pipeline=fingerprint)

        staging = index_dir / STAGING
        staging.mkdir(parents=True, exist_ok=True)
        (staging / "chunks.sqlite").unlink(missing_ok=True)  # a killed run's: reading is redone, embedding is not
        table = ChunkTable(staging / "chunks.sqlite")
        batches = EmbeddedBatches(staging / "batches", embedder_name, dimension).open()
        try:
            unchanged_from = reuse if same_chunking else None
            staged = _read_files(files, unchanged_from, reuse, table, manifest, report, settings, progress, on_progress)
            same_files = unchanged_from is not None and not report.files_changed \
                and set(manifest.files) == set(unchanged_from.manifest.files)
            _cut_tokens(table, unchanged_from, same_files, progress, on_progress)
            report.chunks_embedded, report.chunks_resumed = _embed_missing(
                staged, table, batches, get_embedder, settings, progress, on_progress
            )
            old_files = set(previous.manifest.files) if previous else set()
            report.files_removed = sorted(old_files - set(manifest.files))
            changed = bool(staged.to_embed) or bool(report.files_removed) or bool(report.files_changed) or previous is None
            if changed:
                if on_progress:
                    on_progress("写入新版本 (publishing)", READ_SHARE + EMBED_SHARE)
                spec = spec_from_settings(settings)
                publish_version(index_dir, lambda folder: _assemble(folder, manifest, table, staged, reuse, batches, spec))
            else:
                table.discard()
        except BaseException:
            table.discard()
            batches.close()  # kept: the next run resumes from them
            (staging / "chunks.sqlite").unlink(missing_ok=True)
            raise
        batches.clear()
        shutil.rmtree(staging, ignore_errors=True)
        report.files = len(manifest.files)
        report.per_file = manifest.files
        report.articles = sum(r.articles for r in manifest.files.values())
        report.chunks = len(staged.old_rows)
        report.seconds = time.perf_counter() - began
        if on_progress:
            on_progress("done", 1.0)
        return report


def _read_files(
    files: dict[str, Path],
    unchanged_from: PreviousVersion | None,
    reuse: PreviousVersion | None,
    table: ChunkTable,
    manifest: Manifest,
    report: IngestReport,
    settings: Settings,
    progress: bool,
    on_progress: Callable[[str, float], None] | None,
) -> StagedRows:
    """Stage every file's rows in ``table``, one file at a time: an unchanged file's rows are
    copied from ``unchanged_from``; a new or changed one is chunked, and each chunk takes its
    vector from ``reuse`` by chunk id or is listed to be embedded."""
    staged = StagedRows()
    bar = StageProgress("读取文件", "reading", len(files), "个", "file", 0.0, READ_SHARE, progress, on_progress)
    try:
        for name, path in sorted(files.items()):
            _stage_file(name, path, unchanged_from, reuse, table, manifest, report, settings, staged)
            bar.advance(1, name)
    finally:
        bar.close()
    table.commit()
    return staged


def _stage_file(
    name: str, path: Path, unchanged_from: PreviousVersion | None, reuse: PreviousVersion | None,
    table: ChunkTable, manifest: Manifest, report: IngestReport, settings: Settings, staged: StagedRows,
) -> None:
    if path.suffix.lower() not in SUPPORTED_SUFFIXES:
        report.errors[name] = f"unsupported file type {path.suffix or '(none)'!r}"
        log.warning("skipped %s: %s", path, report.errors[name])
        return
    sha = sha256_file(path)
    old_record = unchanged_from.manifest.files.get(name) if unchanged_from is not None else None
    if unchanged_from is not None and old_record is not None and old_record.sha256 == sha:
        rows = unchanged_from.rows_for_file(name)
        if table.copy_file(unchanged_from.chunks_db, name) != len(rows):
            raise RuntimeError(f"{name}: rows changed while copying")  # the writer lock rules this out
        staged.old_rows.extend(rows)
        manifest.files[name] = old_record
        return
    read = read_chunks(path, name, settings, report)
    if read is None:
        return
    articles, chunks = read
    report.files_changed.append(name)
    for offset, chunk in enumerate(chunks):
        old_row = reuse.row_of(chunk.chunk_id) if reuse is not None else None
        staged.old_rows.append(-1 if old_row is None else old_row)
        if old_row is None:
            staged.to_embed.append((table.rows + offset, chunk.chunk_id))
    table.append(chunks)  # tokens are cut once the whole corpus's lexicon is known (_cut_tokens)
    names: Counter[NameFinding] = Counter()
    for article in articles:
        names.update(find_names(f"{article.title}\n{article.text}"))
    table.add_names(name, ((f.name, f.kind, f.full, count) for f, count in sorted(names.items())))
    manifest.files[name] = FileRecord(sha256=sha, articles=len(articles), chunks=len(chunks), size=path.stat().st_size)


def _cut_tokens(
    table: ChunkTable, unchanged_from: PreviousVersion | None, same_files: bool, progress: bool,
    on_progress: Callable[[str, float], None] | None,
) -> None:
    """Learn the corpus's lexicon from every file's names and cut the BM25 tokens with it:
    of the new rows, or of every row when the lexicon is not the one the copied rows of
    unchanged files were cut with. The same files (every row copied) keep their lexicon."""
    previous = read_lexicon(unchanged_from.chunks_db) if unchanged_from is not None else None
    if previous is not None and same_files:
        # Nothing new was read and nothing removed: the findings, hence the lexicon, are the
        # previous version's (and an unchanged re-ingest stays well under a second).
        table.set_lexicon(previous)
        table.commit()
        return
    lexicon = build_lexicon((NameFinding(n, k, f), c) for n, k, f, c in table.names())
    table.set_lexicon(lexicon)
    every_row = previous is not None and previous != lexicon
    if every_row:
        log.info("the corpus's names changed: cutting the tokens of every chunk again")
    rows = table.rows_to_cut(every_row=every_row)
    bar = StageProgress("分词", "tokenizing", len(rows), "段", "chunk", READ_SHARE, 0.0, progress, on_progress)
    try:
        for done in table.fill_tokens(rows, block_cutter(lexicon, len(rows))):
            bar.advance(done)
    finally:
        bar.close()
    table.commit()


def _embed_missing(
    staged: StagedRows,
    table: ChunkTable,
    batches: EmbeddedBatches,
    get_embedder: Callable[[], Embedder],
    settings: Settings,
    progress: bool,
    on_progress: Callable[[str, float], None] | None,
) -> tuple[int, int]:
    """Embed the staged chunks no persisted batch holds yet, a batch at a time, each batch
    persisted as it completes; returns (chunks embedded now, chunks an earlier run embedded).

    Chunks with the same text (a wire story several papers print, a recurring notice) are
    embedded once: the vector is the same, and in a news corpus a few percent of the chunks
    repeat another's text."""
    seen: set[str] = set()
    todo: list[int] = []
    resumed = 0
    for row, chunk_id in staged.to_embed:
        if chunk_id in seen:
            continue
        seen.add(chunk_id)
        if chunk_id in batches:
            resumed += 1
        else:
            todo.append(row)
    if resumed:
        log.info("resuming: %d chunks were embedded by an earlier ingest that did not finish", resumed)
    if not todo:
        return 0, resumed
    copies = _same_text_rows(table, todo)
    unique = [row for row in todo if row in copies]
    if len(unique) < len(todo):
        log.info("%d chunks repeat the text of another: %d texts to embed", len(todo) - len(unique), len(unique))
    embedder = get_embedder()
    step = max(settings.embedding_batch_size, 1)
    size = max(settings.ingest_batch_chunks, step)
    bar = StageProgress("向量化", "embedding", len(unique), "段", "chunk", READ_SHARE, EMBED_SHARE, progress, on_progress)
    try:
        for start in range(0, len(unique), size):
            rows = unique[start : start + size]
            chunks = table.read(rows)
            parts = []
            for offset in range(0, len(chunks), step):
                part = chunks[offset : offset + step]
                parts.append(embedder.embed_passages([c.indexed_text for c in part]))
                bar.advance(len(part))
            vectors = np.concatenate(parts)
            repeats = [len(copies[row]) for row in rows]
            copy_ids = table.chunk_ids_of([copy for row in rows for copy in copies[row]])
            batches.put(copy_ids, np.repeat(vectors, repeats, axis=0))
    finally:
        bar.close()
    return len(todo), resumed


def _same_text_rows(table: ChunkTable, rows: list[int], block: int = 4096) -> dict[int, list[int]]:
    """Group ``rows`` by the text they embed: {first row of a text: every row with it, first
    included}, in ``rows`` order."""
    first: dict[bytes, int] = {}
    groups: dict[int, list[int]] = {}
    for start in range(0, len(rows), block):
        part = rows[start : start + block]
        for row, chunk in zip(part, table.read(part)):
            key = hashlib.blake2b(chunk.indexed_text.encode("utf-8"), digest_size=16).digest()
            head = first.setdefault(key, row)
            groups.setdefault(head, []).append(row)
    return groups


def _assemble(
    folder: Path, manifest: Manifest, table: ChunkTable, staged: StagedRows, reuse: PreviousVersion | None,
    batches: EmbeddedBatches, spec: DenseIndexSpec,
) -> None:
    """Fill an empty version folder from the staged rows: the dense index from the reused and
    persisted vectors (a block at a time), the staged chunks.sqlite moved in, the manifest."""
    old_rows = np.asarray(staged.old_rows, dtype=np.int64)

    def blocks() -> Iterator[np.ndarray]:
        for start in range(0, len(old_rows), VECTOR_BLOCK):
            stop = min(start + VECTOR_BLOCK, len(old_rows))
            old = old_rows[start:stop]
            block = np.empty((stop - start, manifest.dimension), dtype=np.float32)
            kept = old >= 0
            if kept.any():
                assert reuse is not None
                block[kept] = reuse.vectors(old[kept])
            if not kept.all():
                ids = table.chunk_ids(start, stop)
                block[~kept] = batches.get(cid for cid, k in zip(ids, kept) if not k)
            yield block

    dense = build_index(blocks(), len(old_rows), manifest.dimension, spec)
    table.close()
    shutil.move(str(table.db), str(folder / "chunks.sqlite"))
    finish_version(folder, manifest, dense, spec)
