"""Cleaning of PDF-extracted Chinese text.

PDF extraction leaves: lines hard-wrapped mid-sentence, spaces between CJK
characters and digits ("21 世纪经济报道"), page numbers, image credits, running
page headers and tables of contents. This module works line by line: it first
drops furniture lines, then joins wrapped lines back into paragraphs.
Only whitespace and whole furniture lines are ever removed, so every sentence of
the cleaned text is the source sentence with its whitespace normalised.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass

from rag.text.sentences import ends_sentence

CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# Full-width punctuation and CJK symbols: spaces next to them are never meaningful.
CJK_PUNCT = r"\u3000-\u303f\uff00-\uffef\u2014-\u2027\u00b7"
_CJK_OR_PUNCT = f"[{CJK}{CJK_PUNCT}]"

# A space with a CJK character or CJK punctuation on either side is a PDF artefact.
_SPACE_AFTER_CJK = re.compile(f"(?<={_CJK_OR_PUNCT})[ \t\u00a0\u3000]+")
_SPACE_BEFORE_CJK = re.compile(f"[ \t\u00a0\u3000]+(?={_CJK_OR_PUNCT})")
_MULTI_SPACE = re.compile(r"[ \t\u00a0]{2,}")

# A line ending in one of these continues on the next line, whatever its length.
CONTINUES = "，,、：:（(“‘《【—-"

_PAGE_NUMBER = re.compile(r"^(第\s*)?[-—]?\s*\d{1,3}\s*[-—]?(\s*页)?$|^[A-Z]{0,2}\d{1,2}$|^[A-D]\d{1,2}\s*[~～-]\s*[A-D]\d{1,2}$")
_IMAGE_CREDIT = re.compile(
    r"^(图片来源|图片提供|图文及数据来源|摄影|供图|图源)\s*[:：]|"  # 图片来源：视觉中国
    r"^\S{1,12}\s*/\s*(图|摄)$|^\S{1,10}供图$|"  # 视觉中国/图, 本报资料室/图, 视觉中国供图
    r"^(图\s*为|上图|下图|左图|右图)\S.{0,120}$|"  # captions: 图为…
    r"^(扫码|扫描二维码|本报官方(微博|微信))"
)
_TOC = re.compile(r"\.{4,}|…{2,}|↗")
_BYLINE_OR_SOURCE = re.compile(r"^(本报记者|记者|◎|来源[:：]|文\s*[/／]|作者)|报道$")


def normalize_spaces(text: str) -> str:
    """Remove spaces next to CJK characters/punctuation; keep them inside Latin text."""
    text = _SPACE_AFTER_CJK.sub("", text)
    text = _SPACE_BEFORE_CJK.sub("", text)
    # "21 世纪" is handled above; "2023 上半年" too. Digits next to digits keep their space.
    return _MULTI_SPACE.sub(" ", text).strip()


def display_width(line: str) -> int:
    """Width in half-width cells: a CJK character is as wide as two Latin letters."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in line)


def is_furniture(line: str) -> bool:
    """Lines that are page furniture rather than article text."""
    stripped = line.strip()
    if not stripped:
        return False
    if _PAGE_NUMBER.match(stripped):
        return True
    if _IMAGE_CREDIT.match(stripped):
        return True
    if _TOC.search(stripped) and len(stripped) < 60:
        return True
    return False


def repeated_headers(lines: list[str], min_count: int = 3, max_len: int = 20) -> set[str]:
    """Short lines that recur on many pages: running heads such as the paper's name."""
    counts = Counter(line.strip() for line in lines if 0 < len(line.strip()) <= max_len)
    return {
        text
        for text, count in counts.items()
        if count >= min_count and not _BYLINE_OR_SOURCE.search(text)
    }


@dataclass
class Line:
    """One source line after furniture removal."""

    text: str  # whitespace-normalised
    indented: bool  # started with a space or tab: a section label or a new paragraph
    paragraph_end: bool  # trailing space in the source: some PDF tools mark paragraph ends so
    width: int


def prepare_lines(raw: str) -> tuple[list[Line], set[str]]:
    """Split raw text into cleaned lines, dropping furniture; returns the running heads too.

    Tab-indented lines are dropped: in these PDFs they are the table of contents.
    """
    raw = raw.replace("\r\n", "\n").replace("\r", "\n").replace("\ufeff", "")
    raw_lines = raw.split("\n")
    headers = repeated_headers(raw_lines)
    lines: list[Line] = []
    for raw_line in raw_lines:
        if raw_line.startswith("\t"):
            continue
        stripped = raw_line.strip()
        if not stripped or is_furniture(stripped):
            continue
        text = normalize_spaces(stripped)
        lines.append(
            Line(
                text=text,
                indented=raw_line[:1] in (" ", "\u3000"),
                paragraph_end=raw_line.endswith((" ", "\u3000")),
                width=display_width(text),
            )
        )
    return lines, headers


def typical_width(lines: list[Line]) -> int:
    """The wrap width of the file: most wrapped lines are about this wide."""
    widths = sorted(line.width for line in lines if line.width > 20)
    if not widths:
        return 80
    return widths[int(len(widths) * 0.75)]


def join_lines(lines: list[Line], wrap_width: int | None = None) -> str:
    """Join hard-wrapped lines into paragraphs separated by newlines.

    A line continues on the next one when it ends mid-clause, or when it is about
    as wide as the wrap width and the next line does not start a new paragraph.
    A short line that does not end a sentence is a heading and stands alone.
    """
    if not lines:
        return ""
    width = wrap_width or typical_width(lines)
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line.text)
        if i + 1 == len(lines):
            break
        nxt = lines[i + 1]
        text = line.text
        if nxt.indented:
            sep = "\n"
        elif text[-1] in CONTINUES:
            sep = ""
        elif line.paragraph_end and ends_sentence(text):
            sep = "\n"
        elif line.width >= width * 0.85:
            sep = ""  # a full line: the sentence goes on
        else:
            sep = "\n"  # a short line: paragraph end or heading
        if sep == "" and text[-1:].isascii() and text[-1:].isalnum() and nxt.text[:1].isascii() and nxt.text[:1].isalnum():
            sep = " "  # a wrapped Latin phrase keeps its word boundary
        out.append(sep)
    return "".join(out)


def clean_text(raw: str) -> str:
    """Whole-document cleaning (used for single-article documents)."""
    lines, headers = prepare_lines(raw)
    lines = [line for line in lines if line.text not in headers]
    return join_lines(lines)
