"""The document REST API (admin token): list, upload, delete, re-ingest with progress.

Uploads and deletes change the folders at once and queue a re-ingest job
(``rag.api.jobs``); the response carries the job, and ``GET /api/jobs/{id}`` reports its
stage and progress (0..1) until it is ``done`` (with the ingest report) or ``failed``
(with the reason). The live index switches to the new version when the job is done.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, File, Form, Request, UploadFile
from pydantic import BaseModel, Field

from rag.api.deps import ReadyService, require_admin
from rag.api.errors import ApiError
from rag.api.jobs import Job, JobRunner, Progress
from rag.documents import DocumentLibrary, sanitize_filename
from rag.errors import QuestionError
from rag.ingest.loaders import SUPPORTED_SUFFIXES

router = APIRouter(prefix="/api", tags=["documents"], dependencies=[Depends(require_admin)])

MAX_UPLOAD_BYTES = 50 * 1024 * 1024  # the UI's limit too
MAX_FILES = 20


class DocumentInfo(BaseModel):
    file: str = Field(description="Stored file name (relative to its folder).")
    source: Literal["corpus", "upload"] = Field(description="The bundled corpus or an upload.")
    articles: int = Field(description="Articles found in the file.")
    chunks: int = Field(description="Passages indexed from it.")
    size: int = Field(description="Bytes.")
    titles: list[str] = Field(description="Its article titles, in file order.")


class DocumentList(BaseModel):
    index_version: str = Field(description="The live index version.")
    files: list[DocumentInfo]


class JobAccepted(BaseModel):
    stored: list[str] = Field(default_factory=list, description="Upload: the names the files were stored under.")
    job: Job = Field(description="The re-ingest job; poll GET /api/jobs/{job.id}.")


def job_runner(request: Request) -> JobRunner:
    return request.app.state.jobs


Jobs = Annotated[JobRunner, Depends(job_runner)]


def _report(report: Any) -> dict[str, Any]:
    return {
        "files": report.files,
        "articles": report.articles,
        "chunks": report.chunks,
        "chunks_embedded": report.chunks_embedded,
        "chunks_resumed": report.chunks_resumed,  # embedded by an interrupted ingest before
        "files_changed": list(report.files_changed),
        "files_removed": list(report.files_removed),
        "errors": dict(report.errors),
        "seconds": round(report.seconds, 2),
    }


def _ingest_job(jobs: JobRunner, library: DocumentLibrary, kind: str) -> Job:
    def work(progress: Progress) -> dict[str, Any]:
        return _report(library.ingest(on_progress=progress))

    return jobs.submit(kind, work)


@router.get("/documents", response_model=DocumentList)
def list_documents(svc: ReadyService) -> dict[str, Any]:
    """Every indexed file with its article titles and article and passage counts."""
    files = svc.documents.list_files()  # also picks up a new index version
    titles: dict[str, list[str]] = defaultdict(list)
    for chunk in svc.snapshot().index.chunks:
        seen = titles[chunk.file]
        if chunk.title and chunk.title not in seen:
            seen.append(chunk.title)
    corpus = Path(svc.settings.corpus_dir)
    return {
        "index_version": svc.index_version,
        "files": [
            {
                "file": f.file,
                "source": "corpus" if (corpus / f.file).is_file() else "upload",
                "articles": f.articles,
                "chunks": f.chunks,
                "size": f.size,
                "titles": titles.get(f.file, []),
            }
            for f in files
        ],
    }


@router.post("/documents", status_code=202, response_model=JobAccepted)
async def upload_documents(
    svc: ReadyService,
    jobs: Jobs,
    files: Annotated[list[UploadFile], File(description="One or more documents (txt, md, pdf, docx, html, jsonl).")],
    replace: Annotated[bool, Form(description="Replace an earlier upload of the same name.")] = False,
) -> dict[str, Any]:
    """Store the files in uploads/ and queue a re-ingest (nothing is stored if one of them is refused)."""
    if not files or len(files) > MAX_FILES:
        raise ApiError(422, f"一次上传 1 到 {MAX_FILES} 个文件 (upload 1 to {MAX_FILES} files)")
    payloads: list[tuple[str, bytes]] = []
    for upload in files:
        name = upload.filename or ""
        suffix = Path(name).suffix.lower()
        if suffix not in SUPPORTED_SUFFIXES:
            raise ApiError(
                422, f"不支持的文件类型：{name!r}（支持 {' '.join(SUPPORTED_SUFFIXES)}）(unsupported file type)"
            )
        data = await upload.read(MAX_UPLOAD_BYTES + 1)
        if len(data) > MAX_UPLOAD_BYTES:
            raise ApiError(413, f"文件过大：{name!r}，最大 50 MB (file larger than 50 MB)")
        payloads.append((name, data))
    library = svc.documents
    stored: list[str] = []
    try:
        for name, data in payloads:
            stored.append(library.add_upload(name, data, replace=replace))
    except QuestionError:
        if not replace:  # all or nothing: take back what this request stored
            for done in stored:
                (library.upload_dir / done).unlink(missing_ok=True)
        raise
    return {"stored": stored, "job": _ingest_job(jobs, library, "upload")}


@router.delete("/documents/{name}", status_code=202, response_model=JobAccepted)
def delete_document(name: str, svc: ReadyService, jobs: Jobs) -> dict[str, Any]:
    """Remove a file (upload or bundled) and queue the re-ingest that takes it out of the index."""
    library = svc.documents
    try:
        stored = sanitize_filename(name)
    except QuestionError:
        raise ApiError(404, f"没有这个文件：{name} (no such file)") from None
    if not any((folder / stored).is_file() for folder in library.folders()):
        raise ApiError(404, f"没有这个文件：{stored} (no such file)")

    def work(progress: Progress) -> dict[str, Any]:
        progress(f"removing {stored}", 0.0)
        library.remove(stored)  # deletes, then re-ingests
        return {"removed": stored}

    return {"job": jobs.submit("delete", work)}


@router.post("/documents/ingest", status_code=202, response_model=JobAccepted)
def reingest(svc: ReadyService, jobs: Jobs) -> dict[str, Any]:
    """Queue a re-ingest of the corpus and the uploads (incremental: unchanged files keep their vectors)."""
    return {"job": _ingest_job(jobs, svc.documents, "ingest")}


@router.get("/jobs/{job_id}", response_model=Job)
def get_job(job_id: str, jobs: Jobs) -> Job:
    """A job's state (queued, running, done, failed), stage, progress (0..1), result or error."""
    job = jobs.get(job_id)
    if job is None:
        raise ApiError(404, f"没有这个任务：{job_id} (no such job)")
    return job
