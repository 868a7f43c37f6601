"""The HTML the Gradio UI builds: escaping, citation links, highlights, notices."""

from __future__ import annotations

from tests.ui.ui_support import XSS_IMG, XSS_SCRIPT, XSS_TITLE

from ui.gradio_app import EMPTY_SOURCES, highlight_passage, render_answer, render_result, render_sources

PASSAGE = f"第一句话。电池能量密度达到每公斤420瓦时{XSS_IMG}。最后{XSS_SCRIPT}一句。"


def citation(n: int = 1, **extra: object) -> dict:
    return {
        "n": n,
        "text": PASSAGE,
        "file": "news<b>.jsonl",
        "title": XSS_TITLE,
        "section": "科技 & 能源",
        "score": 0.9,
        "chunk_id": "c1",
        "highlight": f"电池能量密度达到每公斤420瓦时{XSS_IMG}。",
        **extra,
    }


def assert_no_markup_from(text: str, rendered: str) -> None:
    assert "<script" not in rendered and "<img" not in rendered
    assert 'onerror="' not in rendered  # only the escaped form &quot; may appear


def test_answer_markers_become_links_and_text_is_escaped() -> None:
    html = render_answer(f"能量密度为420瓦时{XSS_IMG}[1]，明年量产[2]。\n第二行", turn=3)
    assert '<a class="rag-cite" href="#src-3-1" data-n="1">[1]</a>' in html
    assert 'href="#src-3-2"' in html
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html
    assert "<br>第二行" in html
    assert_no_markup_from(XSS_IMG, html)


def test_bracketed_years_are_not_citation_links() -> None:
    assert "rag-cite" not in render_answer("见[2023]年报", 0)


def test_highlight_marks_the_supporting_sentence_and_escapes_everything() -> None:
    html = highlight_passage(PASSAGE, citation()["highlight"])
    assert html.count("<mark>") == 1
    assert "<mark>电池能量密度达到每公斤420瓦时&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;。</mark>" in html
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in html
    assert_no_markup_from(PASSAGE, html)


def test_highlight_of_non_adjacent_sentences_and_lists() -> None:
    text = "甲。乙。丙。"
    assert highlight_passage(text, "甲。丙。") == "<mark>甲。</mark>乙。<mark>丙。</mark>"
    assert highlight_passage(text, ["乙。", "丙。"]) == "甲。<mark>乙。丙。</mark>"
    assert highlight_passage(text, None) == text
    assert highlight_passage(text, "不在原文里。") == text


def test_sources_panel_escapes_titles_files_and_sections() -> None:
    turns = [{"question": "问<b>题</b>", "answer": "答[1]", "citations": [citation()], "related": []}]
    html = render_sources(turns)
    assert 'id="src-0-1"' in html and " open" in html
    assert "&lt;script&gt;window.__xss_title=1&lt;/script&gt;" in html
    assert "news&lt;b&gt;.jsonl" in html and "科技 &amp; 能源" in html
    assert "问&lt;b&gt;题&lt;/b&gt;" in html
    assert_no_markup_from(PASSAGE, html)


def test_only_the_newest_turn_is_expanded() -> None:
    turns = [
        {"question": "q1", "citations": [citation()], "related": []},
        {"question": "q2", "citations": [citation()], "related": []},
    ]
    html = render_sources(turns)
    assert html.index('data-turn="1"') < html.index('data-turn="0"')  # newest first
    assert '<details class="rag-src" id="src-1-1" open>' in html
    assert '<details class="rag-src" id="src-0-1">' in html
    assert render_sources([]) == EMPTY_SOURCES


def test_refusal_shows_a_notice_and_related_passages() -> None:
    result = {
        "answer": "知识库中没有找到与该问题相关的信息。",
        "refused": True,
        "citations": [],
        "related": [citation(), {"text": "另一段", "file": "b.txt", "title": "", "score": 0.3}],
        "notice": None,
    }
    bubble = render_result(result, 0)
    assert "rag-refusal" in bubble and "可能相关的资料" in bubble
    assert "&lt;script&gt;" in bubble and "<script" not in bubble
    assert "<li>b.txt</li>" in bubble
    sources = render_sources([{"question": "q", **result}])
    assert 'id="rel-0-1"' in sources and 'id="rel-0-2"' in sources and "可能相关的资料" in sources


def test_fallback_notice_is_visible_and_escaped() -> None:
    result = {"answer": "答[1]", "refused": False, "citations": [citation()], "notice": "大模型服务不可用（<Timeout>）"}
    bubble = render_result(result, 0)
    assert '<div class="rag-notice rag-fallback">大模型服务不可用（&lt;Timeout&gt;）</div>' in bubble
    assert "rag-refusal" not in bubble
