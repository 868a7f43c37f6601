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

# The chat tab's subtitle. Where the sources are depends on the screen (beside the chat
# on a wide one, below it on a phone), so it names the panel, not a side.
SUBTITLE = "基于本地知识库回答问题。回答中的 [n] 对应「来源」栏中的原文段落，点击可跳转。"

EMPTY_SOURCES = (
    '<div class="rag-sources-empty">提问后，这里会列出回答引用的原文段落。点击回答中的 [n] 可跳到对应段落。</div>'
)
THINKING = '<span class="rag-thinking">正在检索和生成…</span>'
ANSWER_FAILED = '<div class="rag-notice">生成回答时出错，请稍后重试。</div>'
STOPPED_NOTICE = "已停止生成。以上文字未经引用核对，仅供参考。"
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


def _passage_html(element_id: str, label: str, item: Passage, open_: bool, kind: str = "") -> str:
    """One passage as a collapsible block; ``kind`` is an extra class (rag-cited, rag-uncited)."""
    meta = " · ".join(escape(v) for v in (item.section, item.file) if v)
    if isinstance(item.score, (int, float)):
        meta += f" · 相关度 {item.score:.3f}"
    spans = item.highlight_spans if isinstance(item, Citation) else []
    classes = f"rag-src {kind}" if kind else "rag-src"
    return (
        f'<details class="{classes}" id="{element_id}"{" open" if open_ else ""}>'
        f"<summary>{escape(label)} {escape(item.title or item.file)}</summary>"
        f'<div class="rag-meta">{meta}</div>'
        f'<div class="rag-passage">{highlight_passage(item.text, spans)}</div>'
        "</details>"
    )


def unique_titles(items: Iterable[Passage]) -> list[str]:
    """Each passage's title (its file when untitled), once, in order: passages of one
    article share a title, and a list naming it three times tells the reader nothing."""
    seen: dict[str, None] = {}
    for item in items:
        seen.setdefault(item.title or item.file, None)
    return list(seen)


def _turn_sources(index: int, turn: Turn, newest: bool) -> str:
    parts = [f'<section class="rag-turn" data-turn="{index}"><h3>第 {index + 1} 问：{escape(turn.question)}</h3>']
    for citation in turn.citations:
        parts.append(_passage_html(f"src-{index}-{citation.n}", f"[{citation.n}]", citation, newest, "rag-cited"))
    if turn.citations and newest:
        # Marked against the rest: the reader sees which retrieved passages the answer used.
        cited = {c.chunk_id for c in turn.citations}
        rest = [p for p in turn.retrieved if p.chunk_id not in cited]
        if rest:
            parts.append('<h4 class="rag-uncited-head">其余检索到的段落（未被引用）</h4>')
            for i, item in enumerate(rest, 1):
                parts.append(_passage_html(f"oth-{index}-{i}", f"{i}.", item, False, "rag-uncited"))
    if turn.refused and turn.related:
        parts.append("<h4>可能相关的资料</h4>")
        for i, item in enumerate(turn.related, 1):
            parts.append(_passage_html(f"rel-{index}-{i}", f"相关 {i}.", item, False))
    elif turn.stopped and turn.retrieved:
        parts.append("<h4>检索到的段落</h4>")
        for i, item in enumerate(turn.retrieved, 1):
            parts.append(_passage_html(f"ret-{index}-{i}", f"{i}.", item, False))
    if not turn.citations and not turn.related and not (turn.stopped and turn.retrieved):
        parts.append('<div class="rag-sources-empty">没有引用的段落。</div>')
    parts.append("</section>")
    return "".join(parts)


def render_sources(turns: list[Turn]) -> str:
    """All turns' cited passages, newest first; only the newest turn's are expanded, and
    its uncited retrieved passages follow, dimmed."""
    if not turns:
        return EMPTY_SOURCES
    last = len(turns) - 1
    return "".join(_turn_sources(index, turns[index], index == last) for index in range(last, -1, -1))


def render_retrieving(question: str, passages: list[Passage], turns: list[Turn]) -> str:
    """The panel while the answer is written: the passages just retrieved, then the earlier turns."""
    index = len(turns)
    parts = [
        f'<section class="rag-turn rag-pending" data-turn="{index}"><h3>第 {index + 1} 问：{escape(question)}</h3>',
        f'<div class="rag-sources-note">已检索到 {len(passages)} 个段落，正在生成回答…</div>',
    ]
    for i, item in enumerate(passages, 1):
        parts.append(_passage_html(f"ret-{index}-{i}", f"{i}.", item, i == 1))
    if not passages:
        parts.append('<div class="rag-sources-empty">没有检索到相关段落。</div>')
    parts.append("</section>")
    earlier = render_sources(turns) if turns else ""
    return "".join(parts) + earlier


def render_result(result: Answer | Turn, turn: int) -> str:
    """The assistant bubble: answer with linked markers; a refusal is shown as a notice.

    Takes an Answer or a Turn (a reloaded conversation is re-rendered from its turns).
    """
    if isinstance(result, Turn) and result.stopped:
        partial = f'<div class="rag-answer rag-stopped">{with_breaks(escape(result.answer))}</div>' if result.answer else ""
        return partial + f'<div class="rag-notice rag-stopped-notice">{STOPPED_NOTICE}</div>'
    if result.refused:
        # The service's refusal sentence ("知识库中没有找到…") heads the notice box.
        notice = escape(result.answer or DEFAULT_REFUSAL)
        if result.related:
            titles = "".join(f"<li>{escape(title)}</li>" for title in unique_titles(result.related))
            notice += f'<br>可能相关的资料（原文见「来源」栏）：<ul class="rag-related-list">{titles}</ul>'
        parts = [f'<div class="rag-answer rag-notice rag-refusal">{notice}</div>']
    else:
        parts = [f'<div class="rag-answer">{render_answer(result.answer, turn)}</div>']
    if result.notice:
        parts.append(f'<div class="rag-notice rag-fallback">{escape(result.notice)}</div>')
    return "".join(parts)


def render_partial(text: str) -> str:
    """The answer as the model is writing it (before the citation check)."""
    return f'<div class="rag-answer rag-streaming">{with_breaks(escape(text))}</div>'


def render_messages(turns: list[Turn]) -> list[dict[str, str]]:
    """The chat bubbles of a conversation, rebuilt from its turns (after a page reload)."""
    messages: list[dict[str, str]] = []
    for index, turn in enumerate(turns):
        messages.append({"role": "user", "content": render_question(turn.question)})
        # A failed turn has no answer text and no passages: it was shown as the failure notice.
        failed = turn.refused and not turn.answer and not turn.stopped
        messages.append({"role": "assistant", "content": ANSWER_FAILED if failed else render_result(turn, index)})
    return messages
