"""The feedback log: one JSON line per rating, with what was rated."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.ui.fakes import answer, citation

from ui.feedback import FeedbackLog
from ui.turns import Turn


def test_ratings_are_appended_as_json_lines(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "runtime" / "feedback.jsonl")  # the folder is created on first write
    turn = Turn.from_answer("星海科技的电池？", answer("420瓦时[1]。"))
    log.record(turn, True)
    log.record(turn, False)
    log.record(Turn.failed("坏了", "local"), "custom")
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert [r["rating"] for r in rows] == ["up", "down", "custom"]
    assert rows[0]["question"] == "星海科技的电池？" and rows[0]["answer"] == "420瓦时[1]。"
    assert rows[0]["refused"] is False and rows[0]["mode"] == "extractive" and rows[0]["ts"]
    cited = rows[0]["citations"][0]
    assert cited["chunk_id"] == "c1" and cited["n"] == 1 and cited["text"] == citation().text
    assert cited["highlight_spans"] == [list(span) for span in citation().highlight_spans]
    assert rows[2]["refused"] is True and rows[2]["citations"] == []


def test_concurrent_ratings_do_not_interleave(tmp_path: Path) -> None:
    log = FeedbackLog(tmp_path / "feedback.jsonl")
    turn = Turn.from_answer("q", answer("长" * 5000 + "[1]"))
    threads = [threading.Thread(target=log.record, args=(turn, i % 2 == 0)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    rows = [json.loads(line) for line in log.path.read_text(encoding="utf-8").splitlines()]
    assert len(rows) == 8 and all(r["answer"] == turn.answer for r in rows)
