"""The HTML the Gradio UI shows: answer bubbles, the sources panel, highlighted passages.

Everything shown that comes from documents, answers or users goes through
``html.escape`` here, before it reaches the page: the chatbot runs with
``render_markdown=False`` so the HTML we build is shown as built, and no markdown
syntax inside a document (``[x](javascript:...)``, ``$$``) can turn into markup.
Gradio's own sanitiser stays on as a second layer.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable
from typing import Any

from rag.text.markers import NORMAL_MARKER_RE
from rag.types import Answer, Citation, Passage, Span
from ui.turns import Turn

EMPTY_SOURCES = (
    '<div class="rag-sources-empty">提问后，这里会列出回答引用的原文段落。点击回答中的 [n] 可跳到对应段落。</div>'
)
THINKING = '<span class="rag-thinking">正在检索和生成…</span>'
ANSWER_FAILED = '<div class="rag-notice">生成回答时出错，请稍后重试。</div>'
DEFAULT_REFUSAL = "知识库中没有找到与该问题相关的信息。"


def escape(text: Any) -> str:
    return html.escape(str(text or ""), quote=True)


def with_breaks(escaped: str) -> str:
    return escaped.replace("\n", "<br>")


def render_question(question: str) -> str:
    return with_breaks(escape(question))


def render_answer(answer: str, turn: int) -> str:
    """Escaped answer text whose [n] markers link to passage n of this turn."""

    def link(match: re.Match[str]) -> str:
        n = match.group(1)
        return f'<a class="rag-cite" href="#src-{turn}-{n}" data-n="{n}">[{n}]</a>'

    # Escaping leaves "[12]" as it is, so the markers are found in the escaped text.
    return with_breaks(NORMAL_MARKER_RE.sub(link, escape(answer)))


def _merged(spans: Iterable[Span]) -> list[list[int]]:
    """Spans sorted, with overlapping or touching ones joined into one."""
    merged: list[list[int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return merged


def highlight_passage(text: str, spans: Iterable[Span]) -> str:
    """The passage, escaped, with the supporting sentences (offsets from the server) in <mark>."""
    out: list[str] = []
    position = 0
    for start, end in _merged(spans):
        out.append(escape(text[position:start]))
        out.append(f"<mark>{escape(text[start:end])}</mark>")
        position = end
    out.append(escape(text[position:]))
    return "".join(out)


def _passage_html(element_id: str, label: str, item: Passage, open_: bool) -> str:
    meta = " · ".join(escape(v) for v in (item.section, item.file) if v)
    if isinstance(item.score, (int, float)):
        meta += f" · 相关度 {item.score:.3f}"
    spans = item.highlight_spans if isinstance(item, Citation) else []
    return (
        f'<details class="rag-src" id="{element_id}"{" open" if open_ else ""}>'
        f"<summary>{escape(label)} {escape(item.title or item.file)}</summary>"
        f'<div class="rag-meta">{meta}</div>'
        f'<div class="rag-passage">{highlight_passage(item.text, spans)}</div>'
        "</details>"
    )


def render_sources(turns: list[Turn]) -> str:
    """All turns' cited passages, newest first; only the newest turn's are expanded."""
    if not turns:
        return EMPTY_SOURCES
    blocks: list[str] = []
    last = len(turns) - 1
    for index in range(last, -1, -1):
        turn = turns[index]
        parts = [f'<section class="rag-turn" data-turn="{index}"><h3>第 {index + 1} 问：{escape(turn.question)}</h3>']
        for citation in turn.citations:
            parts.append(_passage_html(f"src-{index}-{citation.n}", f"[{citation.n}]", citation, index == last))
        if turn.refused and turn.related:
            parts.append("<h4>可能相关的资料</h4>")
            for i, item in enumerate(turn.related, 1):
                parts.append(_passage_html(f"rel-{index}-{i}", f"相关 {i}.", item, False))
        if not turn.citations and not turn.related:
            parts.append('<div class="rag-sources-empty">没有引用的段落。</div>')
        parts.append("</section>")
        blocks.append("".join(parts))
    return "".join(blocks)


def render_result(answer: Answer, turn: int) -> str:
    """The assistant bubble: answer with linked markers; a refusal is shown as a notice."""
    if answer.refused:
        # The service's refusal sentence ("知识库中没有找到…") heads the notice box.
        notice = escape(answer.answer or DEFAULT_REFUSAL)
        if answer.related:
            titles = "".join(f"<li>{escape(item.title or item.file)}</li>" for item in answer.related)
            notice += f'<br>可能相关的资料（原文见右侧来源栏）：<ul class="rag-related-list">{titles}</ul>'
        parts = [f'<div class="rag-answer rag-notice rag-refusal">{notice}</div>']
    else:
        parts = [f'<div class="rag-answer">{render_answer(answer.answer, turn)}</div>']
    if answer.notice:
        parts.append(f'<div class="rag-notice rag-fallback">{escape(answer.notice)}</div>')
    return "".join(parts)


def render_partial(text: str) -> str:
    """The answer as the model is writing it (before the citation check)."""
    return f'<div class="rag-answer rag-streaming">{with_breaks(escape(text))}</div>'
