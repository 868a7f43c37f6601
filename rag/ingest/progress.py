"""Ingest progress with rate and ETA: a tqdm bar on the terminal (``rag ingest``) and
``on_progress(stage, fraction)`` messages for the admin tab and the jobs API.

Each stage owns a share of the whole (``start`` .. ``start + span``); the message names
the stage in Chinese first, the count, the rate and the time left, e.g.
``向量化 1,200/12,000 段 · 19.3 段/秒 · 预计剩余 9分20秒 (embedding)``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from tqdm import tqdm

OnProgress = Callable[[str, float], None]


def duration_zh(seconds: float) -> str:
    """``9分20秒``, ``1小时05分``, ``12秒``."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}小时{minutes:02d}分"
    if minutes:
        return f"{minutes}分{secs:02d}秒"
    return f"{secs}秒"


@dataclass
class StageProgress:
    """One stage (reading files, embedding chunks): counts, rate since the stage began, ETA."""

    label_zh: str
    label_en: str
    total: int
    unit_zh: str
    unit_en: str
    start: float = 0.0  # share of the whole ingest done before this stage
    span: float = 1.0  # share of the whole ingest this stage is
    show_bar: bool = True
    on_progress: OnProgress | None = None
    clock: Callable[[], float] = time.perf_counter
    done: int = 0
    began: float = 0.0
    _bar: tqdm | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        self.began = self.clock()
        self._bar = tqdm(total=self.total, desc=self.label_en, unit=self.unit_en, disable=not self.show_bar)

    @property
    def rate(self) -> float:
        """Units per second since the stage began (0 before the first one)."""
        elapsed = self.clock() - self.began
        return self.done / elapsed if elapsed > 0 and self.done else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.rate
        return (self.total - self.done) / rate if rate else None

    def message(self, note: str = "") -> str:
        parts = [f"{self.label_zh} {self.done:,}/{self.total:,} {self.unit_zh}"]
        if self.rate:
            parts.append(f"{self.rate:.1f} {self.unit_zh}/秒")
        eta = self.eta_seconds
        if eta is not None and self.done < self.total:
            parts.append(f"预计剩余 {duration_zh(eta)}")
        if note:
            parts.append(note)
        return " · ".join(parts) + f" ({self.label_en})"

    def advance(self, n: int = 1, note: str = "") -> None:
        self.done += n
        if self._bar is not None:
            self._bar.update(n)
        self.report(note)

    def report(self, note: str = "") -> None:
        if self.on_progress:
            share = self.done / self.total if self.total else 1.0
            self.on_progress(self.message(note), self.start + self.span * min(share, 1.0))

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
