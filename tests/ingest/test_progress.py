"""Progress messages: count, rate, time left, Chinese first; fractions within the stage's share."""

from __future__ import annotations

from rag.ingest.progress import StageProgress, duration_zh


def test_durations_read_in_chinese():
    assert duration_zh(12) == "12秒"
    assert duration_zh(560) == "9分20秒"
    assert duration_zh(3900) == "1小时05分"


def test_stage_reports_rate_eta_and_its_share():
    now = [100.0]
    seen: list[tuple[str, float]] = []
    stage = StageProgress("向量化", "embedding", 400, "段", "chunk", start=0.1, span=0.8, show_bar=False,
                          on_progress=lambda message, fraction: seen.append((message, fraction)), clock=lambda: now[0])
    now[0] = 110.0
    stage.advance(100)  # 100 chunks in 10 s
    message, fraction = seen[-1]
    assert message == "向量化 100/400 段 · 10.0 段/秒 · 预计剩余 30秒 (embedding)"
    assert abs(fraction - 0.3) < 1e-9
    now[0] = 120.0
    stage.advance(300)  # all 400 in 20 s
    message, fraction = seen[-1]
    assert message == "向量化 400/400 段 · 20.0 段/秒 (embedding)" and abs(fraction - 0.9) < 1e-9
    stage.close()
