"""What the admin tab lists: every file of the knowledge base, indexed or skipped.

A file the last ingest skipped (empty, unreadable, no text) stays in its folder; it
is listed with the reason, in Chinese, so the admin can fix or remove it instead of
seeing it reported again on every upload.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

from rag.documents import FileInfo
from ui.overview import title_summary

HEADERS = ["文件", "状态", "文章数", "段落数", "字节", "文章标题"]
DATATYPES = ["str", "str", "number", "number", "number", "str"]
INDEXED = "已索引"
UNKNOWN_REASON = "未建立索引（点“重新建立索引”查看原因）"

# The ingest pipeline's reasons (English, for logs) as the admin reads them; matched by prefix.
_REASONS_ZH = [
    ("no text found after cleaning", "清理后没有正文"),
    ("unsupported file type", "不支持的文件类型"),
    ("file is empty", "文件是空的"),
    ("looks like a binary file", "看起来是二进制文件，不是文本"),
    ("cannot detect the text encoding", "无法识别文本编码（不是 UTF-8 或 GB18030）"),
    ("cannot decode text", "无法解码文本"),
    ("corrupt or unreadable PDF", "PDF 损坏或无法读取"),
    ("PDF has no extractable text", "PDF 中没有可提取的文字（扫描件需要先做 OCR）"),
    ("corrupt or unreadable DOCX", "DOCX 损坏或无法读取"),
    ("HTML has no text content", "HTML 中没有正文"),
    ("no valid JSON lines", "没有带 text 字段的有效 JSON 行"),
]


def reason_zh(reason: str) -> str:
    """The pipeline's reason in Chinese, the original kept after it for anything unknown."""
    for prefix, chinese in _REASONS_ZH:
        if reason.startswith(prefix):
            return f"{chinese} ({reason})"
    return reason


@dataclass(frozen=True)
class FileRow:
    file: str
    status: str
    articles: int
    chunks: int
    size: int
    titles: str

    def cells(self) -> list[object]:
        return [self.file, self.status, self.articles, self.chunks, self.size, self.titles]


class SkipLog:
    """The reasons of the last ingest's skipped files (kept per process: the pipeline does not
    store them). Thread-safe: Gradio runs handlers in threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._reasons: dict[str, str] = {}

    def update(self, errors: dict[str, str]) -> None:
        with self._lock:
            self._reasons = dict(errors)

    def get(self, name: str) -> str | None:
        with self._lock:
            return self._reasons.get(name)


def file_rows(
    indexed: list[FileInfo], titles: dict[str, list[str]], on_disk: dict[str, int], skips: SkipLog
) -> list[FileRow]:
    """Indexed files with their titles, then the files on disk (name -> bytes) not in the index."""
    rows = [
        FileRow(f.file, INDEXED, f.articles, f.chunks, f.size, title_summary(titles.get(f.file, [])))
        for f in indexed
    ]
    known = {f.file for f in indexed}
    for name in sorted(set(on_disk) - known):
        reason = skips.get(name)
        status = f"已跳过：{reason_zh(reason)}" if reason else UNKNOWN_REASON
        rows.append(FileRow(name, status, 0, 0, on_disk[name], ""))
    return rows
