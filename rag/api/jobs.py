"""Background jobs of the document API (re-ingest after an upload or delete), with progress to poll.

An ingest takes seconds to minutes (every new chunk is embedded on the CPU), longer than
a client should hold a request open. Jobs run one at a time, in order, on one worker
thread: the index has one writer anyway (the ingest's file lock), and queueing makes a
second request wait its turn instead of failing with "index busy".
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from rag.errors import RagError

log = logging.getLogger(__name__)

JobState = Literal["queued", "running", "done", "failed"]
KEEP_JOBS = 100  # finished jobs remembered for polling
Progress = Callable[[str, float], None]


@dataclass
class Job:
    """One background job as ``GET /api/jobs/{id}`` reports it."""

    id: str
    kind: str  # ingest, upload, delete
    state: JobState = "queued"
    stage: str = ""  # what the ingest is doing ("reading x.txt", "embedding")
    progress: float = 0.0  # 0..1
    created: float = field(default_factory=time.time)
    finished: float | None = None
    result: dict[str, Any] | None = None  # the ingest report when done
    error: str | None = None  # the reason when failed

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class JobRunner:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # made on first use: constructing the app stays cheap

    def submit(self, kind: str, work: Callable[[Progress], dict[str, Any]]) -> Job:
        """Queue ``work(on_progress)``; it returns the job's result (a JSON-able dict)."""
        job = Job(id=uuid.uuid4().hex, kind=kind)
        with self._lock:
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state in ("queued", "running"):
                    break
                self._jobs.pop(oldest)
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="rag-job")
        self._pool.submit(self._run, job, work)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            job = self._jobs.get(job_id)
            return Job(**asdict(job)) if job else None  # a copy: the worker keeps writing the original

    def _run(self, job: Job, work: Callable[[Progress], dict[str, Any]]) -> None:
        def progress(stage: str, fraction: float) -> None:
            with self._lock:
                job.stage, job.progress = stage, round(max(0.0, min(1.0, fraction)), 3)

        with self._lock:
            job.state = "running"
        try:
            result = work(progress)
        except RagError as exc:  # e.g. no such file, the index is busy: the client reads why
            self._finish(job, "failed", error=str(exc))
        except Exception as exc:  # a bug: logged, and the job says it failed instead of staying "running"
            log.exception("job %s (%s) failed", job.id, job.kind)
            self._finish(job, "failed", error=f"内部错误 (internal error): {type(exc).__name__}")
        else:
            self._finish(job, "done", result=result)

    def _finish(self, job: Job, state: JobState, **values: Any) -> None:
        with self._lock:
            job.state, job.finished = state, time.time()
            if state == "done":
                job.progress, job.stage = 1.0, "done"
            for name, value in values.items():
                setattr(job, name, value)
