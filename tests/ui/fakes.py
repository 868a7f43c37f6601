"""A fake of the service contract the UI handlers use, and builders of results.

Unit tests of the handlers run on this instead of a real index: the answer it gives
is whatever the test put in, so what the test checks is the UI's own work.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from tests.ui.ui_support import XSS_IMG, XSS_SCRIPT, XSS_TITLE

from rag.config import Settings
from rag.documents import FileInfo, sanitize_filename
from rag.errors import IndexBusyError, QuestionError
from rag.ingest.pipeline import IngestReport
from rag.types import Answer, Chunk, Citation, Confidence, Passage, StreamEvent

PASSAGE = f"第一句话。电池能量密度达到每公斤420瓦时{XSS_IMG}。最后{XSS_SCRIPT}一句。"
HIGHLIGHT = f"电池能量密度达到每公斤420瓦时{XSS_IMG}。"


def citation(n: int = 1, **extra: Any) -> Citation:
    start = PASSAGE.index(HIGHLIGHT)
    fields: dict[str, Any] = {
        "text": PASSAGE,
        "file": "news<b>.jsonl",
        "title": XSS_TITLE,
        "section": "科技 & 能源",
        "score": 0.9,
        "chunk_id": "c1",
        "n": n,
        "highlight": HIGHLIGHT,
        "highlight_spans": [(start, start + len(HIGHLIGHT))],
    }
    return Citation(**{**fields, **extra})


def passage(text: str = "另一段", **extra: Any) -> Passage:
    fields: dict[str, Any] = {"text": text, "file": "b.txt", "title": "", "section": "", "score": 0.3, "chunk_id": "p"}
    return Passage(**{**fields, **extra})


def answer(text: str = "能量密度为420瓦时[1]。", **extra: Any) -> Answer:
    fields: dict[str, Any] = {
        "question": "问题",
        "standalone_question": "问题",
        "answer": text,
        "mode": "extractive",
        "refused": False,
        "confidence": Confidence(dense=0.9, bm25=10.0),
        "retrieved": [],
        "citations": [citation()],
    }
    return Answer(**{**fields, **extra})


def refusal(**extra: Any) -> Answer:
    return answer("知识库中没有找到与该问题相关的信息。", refused=True, citations=[], **extra)


@dataclass
class SourcesEvent:
    """The early event the service is to send once retrieval is done (proposed shape:
    ``{"type": "sources", "passages": [...]}``); StreamEvent does not carry it yet."""

    passages: list[Passage] = field(default_factory=list)
    type: str = "sources"
    text: str = ""
    answer: Answer | None = None


class FakeLibrary:
    """The DocumentLibrary contract: list_files, add_upload, remove, ingest(on_progress), folders."""

    def __init__(self, files: list[str]):
        self.files = {name: FileInfo(name, articles=1, chunks=2, size=100) for name in files}
        self.ingests = 0
        self.busy = False
        self.disk: list[Path] = []  # folders whose files count as "on disk" (skipped ones show up)
        self.replaced: list[str] = []

    def folders(self) -> list[Path]:
        return self.disk

    def list_files(self) -> list[FileInfo]:
        return [self.files[name] for name in sorted(self.files)]

    def add_upload(self, filename: str, data: bytes, replace: bool = False) -> str:
        name = sanitize_filename(filename)
        if name in self.files and not replace:
            raise QuestionError(f"已有同名文件：{name}")
        if replace:
            self.replaced.append(name)
        self.files[name] = FileInfo(name, articles=1, chunks=2, size=len(data))
        return name

    def remove(self, name: str) -> None:
        if name not in self.files:
            raise QuestionError(f"没有这个文件：{name} (no such file)")
        del self.files[name]

    def ingest(self, on_progress: Callable[[str, float], None] | None = None) -> IngestReport:
        if self.busy:
            raise IndexBusyError("另一个建索引任务正在进行 (index busy)")
        self.ingests += 1
        if on_progress:
            on_progress("embed", 0.5)
            on_progress("done", 1.0)
        return IngestReport(files=len(self.files), articles=len(self.files), chunks=2, seconds=0.5)


class FakeService:
    """Answers every question with ``result``, streamed as ``tokens`` first; records the calls."""

    def __init__(
        self,
        result: Answer | None = None,
        tokens: tuple[str, ...] = (),
        files: tuple[str, ...] = ("news.jsonl",),
        sources: list[Passage] | None = None,
    ):
        self.settings = Settings(_env_file=None)
        self.result = result or answer()
        self.tokens = tokens
        self.sources = sources  # sent as an early "sources" event when set
        self.error: Exception | None = None
        self.calls: list[dict[str, Any]] = []
        self.closed = 0  # answer streams closed before their end (a stop)
        self.documents = FakeLibrary(list(files))

    def snapshot(self) -> SimpleNamespace:
        """The live index as the UI reads it: chunks (for titles) and the manifest's date."""
        chunks = [
            Chunk(f"{name}-{i}", name, i, f"{name} 的第{i + 1}篇文章标题", "", "", "", "正文。", 0, 3)
            for name, info in self.documents.files.items()
            for i in range(info.articles)
        ]
        return SimpleNamespace(index=SimpleNamespace(chunks=chunks, manifest=SimpleNamespace(created=1.7e9)))

    def ask_stream(
        self, question: str, history: list[dict[str, str]] | None = None, k: int | None = None, mode: str | None = None
    ) -> Iterator[StreamEvent]:
        self.calls.append({"question": question, "history": history, "k": k, "mode": mode})
        try:
            if self.sources is not None:
                yield SourcesEvent(passages=list(self.sources))  # type: ignore[misc]
            for token in self.tokens:
                yield StreamEvent(type="token", text=token)
            if self.error is not None:
                raise self.error
            yield StreamEvent(type="final", answer=self.result)
        except GeneratorExit:
            self.closed += 1
            raise


class SlowService(FakeService):
    """Streams its tokens ``delay`` seconds apart: long enough for a browser to act mid-answer."""

    def __init__(self, *args: Any, delay: float = 0.5, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.delay = delay

    def ask_stream(
        self, question: str, history: list[dict[str, str]] | None = None, k: int | None = None, mode: str | None = None
    ) -> Iterator[StreamEvent]:
        import time

        inner = super().ask_stream(question, history, k, mode)
        try:
            for event in inner:
                if event.type == "token":
                    time.sleep(self.delay)
                yield event
        finally:
            inner.close()  # a stop closes this stream: pass it on at once, as the real service does
