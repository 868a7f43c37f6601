"""The citation-marker syntax."""

from __future__ import annotations

from rag.text.markers import marker, marker_runs, parse_markers, strip_markers


def test_every_written_form_is_parsed() -> None:
    assert parse_markers("甲[1,2]乙【3】丙［４］丁[5、6]") == [1, 2, 3, 4, 5, 6]


def test_years_in_brackets_are_not_markers() -> None:
    assert parse_markers("见[2023]年报") == []


def test_runs_and_stripping() -> None:
    text = "举行[1] [2]。"
    assert marker_runs(text) == [(2, 9)]
    assert strip_markers(text) == "举行。"
    assert marker(3) == "[3]"
