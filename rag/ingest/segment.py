"""Split one document into articles: title, section, byline, source and body.

Magazine digests end each article with a 来源：… line and start the next with a
short, indented section label (" 创业投资") and a title; newspapers put the title
right above a byline (本报记者 X 北京报道); commentary pages use ◎author bylines
and close with (作者…). The segmenter recognises these markers; a document with
none of them stays one article.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from rag.ingest.clean import Line, join_lines, prepare_lines, typical_width
from rag.types import Article, RawDocument

_SOURCE_LINE = re.compile(r"^来源[:：]\s*(?P<source>.+)$")
_AUTHOR_NOTE = re.compile(r"^[(（](作者.*|[^()（）。，,]{2,24})[)）]$")
_BYLINE = re.compile(r"^(本报记者|本报特约记者|◎)\s*[^，,。]{1,30}$")
_REPORT_PLACE = re.compile(r"^\S{1,12}报道$")  # the second half of a wrapped byline: 北京报道
_TITLE_FORBIDDEN = re.compile(r"[。，,；;]")
# Articles shorter than this are contact blocks, adverts or editor's notes.
MIN_ARTICLE_CHARS = 120
MAX_SECTION_CHARS = 6
MAX_TITLE_LINES = 3


@dataclass
class _Segment:
    lines: list[Line] = field(default_factory=list)
    section: str = ""
    byline: str = ""
    source: str = ""
    title_lines: list[Line] = field(default_factory=list)
    # A running head met inside a segment names the section of the articles after it.
    trailing_section: str = ""


def _is_title_like(line: Line, width: int) -> bool:
    text = line.text
    return (
        len(text) <= 60
        and line.width < width * 0.9  # a full-width line is body text that wraps
        and not _TITLE_FORBIDDEN.search(text)
        and not _BYLINE.match(text)
        and not _SOURCE_LINE.match(text)
        and not _AUTHOR_NOTE.match(text)
    )


def _join_title(lines: list[Line], width: int, marks_paragraphs: bool) -> str:
    """Join title lines: a wrapped line continues onto the next, others are title parts."""
    parts: list[str] = []
    for i, line in enumerate(lines):
        wrapped = marks_paragraphs and not lines[i - 1].paragraph_end if i else False
        if i and (wrapped or lines[i - 1].width >= width * 0.85):
            parts[-1] += line.text
        else:
            parts.append(line.text)
    return " ".join(parts)


def _find_article_starts(lines: list[Line], headers: set[str], width: int) -> list[int]:
    """Indices where an article begins: after a closing marker, or at the title above a byline."""
    starts = {0}
    for i, line in enumerate(lines):
        if _SOURCE_LINE.match(line.text) or _AUTHOR_NOTE.match(line.text):
            starts.add(i + 1)
        elif _BYLINE.match(line.text):
            j = i
            while (
                j > 0
                and i - j < MAX_TITLE_LINES
                and (lines[j - 1].text in headers or _is_title_like(lines[j - 1], width))
                and not _SOURCE_LINE.match(lines[j - 1].text)
            ):
                j -= 1
            # Running heads directly above the title belong to the page, not the article.
            while j < i and lines[j].text in headers:
                j += 1
            starts.add(j)
    return sorted(s for s in starts if s < len(lines))


def _parse_segment(
    lines: list[Line], headers: set[str], width: int, section: str, marks_paragraphs: bool
) -> _Segment:
    seg = _Segment(section=section)
    body: list[Line] = []
    i = 0
    # Leading running heads set the section (e.g. a newspaper page's topic).
    while i < len(lines) and lines[i].text in headers:
        seg.section = lines[i].text
        i += 1
    if i < len(lines) and lines[i].indented and len(lines[i].text) <= MAX_SECTION_CHARS:
        seg.section = lines[i].text.replace(" ", "")
        i += 1
    while i < len(lines) and len(seg.title_lines) < MAX_TITLE_LINES and (
        lines[i].text in headers or _is_title_like(lines[i], width)
    ):
        if lines[i].text in headers:
            seg.section = lines[i].text
            i += 1
            continue
        seg.title_lines.append(lines[i])
        i += 1
        if marks_paragraphs and lines[i - 1].paragraph_end:
            break  # the title's last line carries the paragraph-end mark
    while i < len(lines):
        line = lines[i]
        text = line.text
        if line.text in headers:
            seg.trailing_section = line.text
            i += 1
            continue
        source = _SOURCE_LINE.match(text)
        if source:
            seg.source = source.group("source").strip()
        elif _BYLINE.match(text) and not seg.byline:
            seg.byline = text.lstrip("◎")
            if i + 1 < len(lines) and _REPORT_PLACE.match(lines[i + 1].text):
                seg.byline += " " + lines[i + 1].text
                i += 1
        elif _AUTHOR_NOTE.match(text):
            # The note stays in the body too: readers ask who wrote an article.
            seg.byline = seg.byline or text.strip("()（）")
            body.append(line)
        else:
            body.append(line)
        i += 1
    seg.lines = body
    return seg


def segment_document(doc: RawDocument) -> list[Article]:
    """Split a RawDocument into cleaned Articles (page furniture removed)."""
    lines, headers = prepare_lines(doc.text)
    if not lines:
        return []
    width = typical_width(lines)
    # Some PDF tools end every paragraph with a trailing space; where they do, it is
    # the most reliable signal of where a wrapped title stops.
    marks_paragraphs = sum(line.paragraph_end for line in lines) > 0.2 * len(lines)
    if doc.single_article:
        text = join_lines([line for line in lines if line.text not in headers], width)
        title = doc.title or (lines[0].text if _is_title_like(lines[0], width) else "")
        return [Article(file=doc.file, index=0, title=title, text=text, source=doc.source, date=doc.date)]

    starts = _find_article_starts(lines, headers, width)
    segments: list[_Segment] = []
    section = ""
    for start, end in zip(starts, starts[1:] + [len(lines)]):
        seg = _parse_segment(lines[start:end], headers, width, section, marks_paragraphs)
        section = seg.trailing_section or seg.section
        segments.append(seg)

    # Column order in PDFs sometimes puts an article's title after its end:
    # an untitled article followed by a segment opening with two titles takes the first.
    for prev, seg in zip(segments, segments[1:]):
        if not prev.title_lines and len(seg.title_lines) >= 2 and prev.lines:
            prev.title_lines = [seg.title_lines.pop(0)]

    articles: list[Article] = []
    for seg in segments:
        text = join_lines(seg.lines, width)
        if len(text) < MIN_ARTICLE_CHARS:
            continue
        title = _join_title(seg.title_lines, width, marks_paragraphs) or doc.title
        first_line = text.split("\n", 1)[0]
        if not title and len(first_line) <= 40:
            title = first_line  # an untitled article usually opens with its headline
        articles.append(
            Article(
                file=doc.file,
                index=len(articles),
                title=title,
                text=text,
                section=seg.section,
                byline=seg.byline,
                source=seg.source or doc.source,
                date=doc.date,
            )
        )
    if not articles:
        # The minimum length drops furniture inside long documents; a file that is
        # short as a whole (a two-sentence note) is one article, not nothing.
        text = join_lines([line for line in lines if line.text not in headers], width)
        if text.strip():
            first_line = text.split("\n", 1)[0]
            heading = first_line.lstrip("#").strip()  # a markdown heading, without its marker
            title = doc.title or (heading if len(heading) <= 40 else "")
            articles.append(Article(file=doc.file, index=0, title=title, text=text, source=doc.source, date=doc.date))
    return articles
