"""The HTML the Gradio UI builds: escaping, citation links, highlights, notices."""

from __future__ import annotations

from tests.ui.fakes import PASSAGE, answer, citation, passage, refusal
from tests.ui.ui_support import XSS_IMG

from ui.render import (
    ANSWER_FAILED,
    EMPTY_SOURCES,
    STOPPED_NOTICE,
    SUBTITLE,
    highlight_passage,
    render_answer,
    render_messages,
    render_partial,
    render_result,
    render_retrieving,
    render_sources,
)
from ui.turns import Turn


def assert_no_markup(rendered: str) -> None:
    assert "<script" not in rendered and "<img" not in rendered
    assert 'onerror="' not in rendered  # only the escaped form &quot; may appear


def test_answer_markers_become_links_and_text_is_escaped() -> None:
    html = render_answer(f"能量密度为420瓦时{XSS_IMG}[1]，明年量产[2]。\n第二行", turn=3)
    assert '<a class="rag-cite" href="#src-3-1" data-n="1">[1]</a>' in html
    assert 'href="#src-3-2"' in html
    assert "&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;" in html
    assert "<br>第二行" in html
    assert_no_markup(html)


def test_bracketed_years_are_not_citation_links() -> None:
    assert "rag-cite" not in render_answer("见[2023]年报", 0)


def test_highlight_marks_the_spans_the_server_sent_and_escapes_everything() -> None:
    html = highlight_passage(PASSAGE, citation().highlight_spans)
    assert html.count("<mark>") == 1
    assert "<mark>电池能量密度达到每公斤420瓦时&lt;img src=x onerror=&quot;window.__xss=1&quot;&gt;。</mark>" in html
    assert "&lt;script&gt;window.__xss=2&lt;/script&gt;" in html
    assert_no_markup(html)


def test_highlight_of_non_adjacent_touching_and_unsorted_spans() -> None:
    text = "甲。乙。丙。"
    assert highlight_passage(text, [(0, 2), (4, 6)]) == "<mark>甲。</mark>乙。<mark>丙。</mark>"
    assert highlight_passage(text, [(4, 6), (2, 4)]) == "甲。<mark>乙。丙。</mark>"  # touching: one mark
    assert highlight_passage(text, [(0, 3), (2, 4)]) == "<mark>甲。乙。</mark>丙。"  # overlapping: one mark
    assert highlight_passage(text, []) == text


def test_highlight_offsets_count_characters_not_bytes() -> None:
    text = "𠀀字。乙。"  # an astral character first: a JS string would count it twice
    assert highlight_passage(text, [(3, 5)]) == "𠀀字。<mark>乙。</mark>"


def test_sources_panel_escapes_titles_files_and_sections() -> None:
    html = render_sources([Turn("问<b>题</b>", answer="答[1]", citations=[citation()])])
    assert 'id="src-0-1"' in html and " open" in html
    assert "&lt;script&gt;window.__xss_title=1&lt;/script&gt;" in html
    assert "news&lt;b&gt;.jsonl" in html and "科技 &amp; 能源" in html
    assert "问&lt;b&gt;题&lt;/b&gt;" in html
    assert "相关度 0.900" in html and "<mark>" in html
    assert_no_markup(html)


def test_only_the_newest_turn_is_expanded() -> None:
    html = render_sources([Turn("q1", citations=[citation()]), Turn("q2", citations=[citation()])])
    assert html.index('data-turn="1"') < html.index('data-turn="0"')  # newest first
    assert '<details class="rag-src rag-cited" id="src-1-1" open>' in html
    assert '<details class="rag-src rag-cited" id="src-0-1">' in html
    assert render_sources([]) == EMPTY_SOURCES


def test_a_turn_without_passages_says_so() -> None:
    assert "没有引用的段落" in render_sources([Turn.failed("q", "local")])


def test_refusal_shows_a_notice_and_related_passages() -> None:
    result = refusal(related=[citation(), passage()])
    bubble = render_result(result, 0)
    assert "rag-refusal" in bubble and "可能相关的资料" in bubble
    assert "&lt;script&gt;" in bubble and "<script" not in bubble
    assert "<li>b.txt</li>" in bubble and "右侧" not in bubble
    sources = render_sources([Turn.from_answer("q", result)])
    assert 'id="rel-0-1"' in sources and 'id="rel-0-2"' in sources and "可能相关的资料" in sources


def test_refusal_without_related_passages_is_only_the_notice() -> None:
    bubble = render_result(refusal(), 0)
    assert bubble == '<div class="rag-answer rag-notice rag-refusal">知识库中没有找到与该问题相关的信息。</div>'


def test_fallback_notice_is_visible_and_escaped() -> None:
    bubble = render_result(answer("答[1]", notice="大模型服务不可用（<Timeout>）"), 0)
    assert '<div class="rag-notice rag-fallback">大模型服务不可用（&lt;Timeout&gt;）</div>' in bubble
    assert "rag-refusal" not in bubble and 'href="#src-0-1"' in bubble


def test_partial_answer_is_escaped_with_line_breaks() -> None:
    assert render_partial("甲<b>\n乙") == '<div class="rag-answer rag-streaming">甲&lt;b&gt;<br>乙</div>'


def test_refusal_lists_each_title_once() -> None:
    """Issue 13, defect 13: three passages of one article are one line in the list."""
    same = [passage("甲", title="同一篇", chunk_id=str(i)) for i in range(3)]
    bubble = render_result(refusal(related=[*same, passage("乙", title="另一篇")]), 0)
    assert bubble.count("<li>同一篇</li>") == 1 and bubble.count("<li>") == 2


def test_the_subtitle_names_the_panel_not_a_side() -> None:
    """On a phone the sources panel is below the chat, not to its right."""
    assert "来源" in SUBTITLE and "右侧" not in SUBTITLE and "右侧" not in EMPTY_SOURCES


def test_cited_passages_are_marked_and_the_rest_dimmed() -> None:
    other = passage("没被引用", chunk_id="p2")
    turn = Turn("q", answer="答[1]", citations=[citation()], retrieved=[citation(), other])
    html = render_sources([turn])
    assert 'class="rag-src rag-cited" id="src-0-1" open' in html
    assert 'class="rag-src rag-uncited" id="oth-0-1"' in html and "没被引用" in html
    assert html.count("rag-uncited\"") == 1  # the cited passage is not repeated among the rest
    older = render_sources([turn, Turn("q2", answer="答[1]", citations=[citation()])])
    assert 'id="oth-0-1"' not in older  # only the newest turn lists its uncited passages


def test_retrieved_passages_are_shown_while_the_answer_is_written() -> None:
    html = render_retrieving("新<问题>", [citation(), passage()], [Turn("q", citations=[citation()])])
    assert html.index('data-turn="1"') < html.index('data-turn="0"')
    assert "第 2 问：新&lt;问题&gt;" in html and "已检索到 2 个段落" in html
    assert 'id="ret-1-1" open' in html and 'id="ret-1-2"' in html
    assert_no_markup(html)
    assert "没有检索到" in render_retrieving("q", [], [])


def test_a_stopped_turn_shows_its_partial_text_as_unchecked() -> None:
    bubble = render_result(Turn.stopped_early("q", "写到<b>一半"), 0)
    assert "写到&lt;b&gt;一半" in bubble and STOPPED_NOTICE in bubble and "rag-cite" not in bubble
    assert render_result(Turn.stopped_early("q", ""), 0) == f'<div class="rag-notice rag-stopped-notice">{STOPPED_NOTICE}</div>'


def test_messages_are_rebuilt_from_turns() -> None:
    turns = [Turn.from_answer("问<1>", answer()), Turn.failed("问2", "local"), Turn.from_answer("问3", refusal())]
    messages = render_messages(turns)
    assert [m["role"] for m in messages] == ["user", "assistant"] * 3
    assert messages[0]["content"] == "问&lt;1&gt;" and 'href="#src-0-1"' in messages[1]["content"]
    assert messages[3]["content"] == ANSWER_FAILED and "rag-refusal" in messages[5]["content"]
    assert_no_markup("".join(m["content"] for m in messages))
