"""Turn files into RawDocuments. One loader per format, picked by suffix.

A loader raises LoaderError with a human reason; the pipeline reports it with the
path and goes on with the other files.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from charset_normalizer import from_bytes

from rag.types import RawDocument

log = logging.getLogger(__name__)


class LoaderError(Exception):
    """A file that cannot be read; the message says why."""


def decode_text(data: bytes) -> str:
    """Decode UTF-8 (with or without BOM) or the Chinese legacy encodings.

    UTF-8 is tried strictly first because it is by far the common case and
    detectors sometimes mislabel short UTF-8 Chinese; GB18030 is a superset of
    GBK/GB2312, so it covers the other files Chinese offices produce.
    """
    if data.startswith(b"\xef\xbb\xbf"):
        return data[3:].decode("utf-8")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return data.decode("utf-16")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError:
        pass
    best = from_bytes(data).best()
    if best is None:
        raise LoaderError("cannot detect the text encoding (not UTF-8 or GB18030)")
    return str(best)


def _read_bytes(path: Path) -> bytes:
    data = path.read_bytes()
    if not data.strip():
        raise LoaderError("file is empty")
    return data


def load_text(path: Path, name: str) -> list[RawDocument]:
    text = decode_text(_read_bytes(path))
    if "\x00" in text:
        raise LoaderError("looks like a binary file, not text")
    return [RawDocument(text=text, file=name)]


def load_pdf(path: Path, name: str) -> list[RawDocument]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    _read_bytes(path)
    try:
        reader = PdfReader(str(path))
        pages = [page.extract_text() or "" for page in reader.pages]
    except (PdfReadError, ValueError, KeyError, TypeError, OSError) as exc:
        raise LoaderError(f"corrupt or unreadable PDF: {exc}") from exc
    text = "\n".join(pages)
    if not text.strip():
        raise LoaderError("PDF has no extractable text (scanned images need OCR)")
    return [RawDocument(text=text, file=name)]


def load_docx(path: Path, name: str) -> list[RawDocument]:
    import zipfile

    import docx

    _read_bytes(path)
    try:
        document = docx.Document(str(path))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise LoaderError(f"corrupt or unreadable DOCX: {exc}") from exc
    paragraphs = [p.text for p in document.paragraphs]
    for table in document.tables:
        for row in table.rows:
            paragraphs.append(" | ".join(cell.text for cell in row.cells))
    text = "\n".join(paragraphs)
    title = document.core_properties.title or ""
    return [RawDocument(text=text, file=name, title=title)]


def load_html(path: Path, name: str) -> list[RawDocument]:
    import trafilatura

    html = decode_text(_read_bytes(path))
    text = trafilatura.extract(html, include_comments=False, favor_recall=True) or ""
    metadata = trafilatura.extract_metadata(html)
    title = (metadata.title if metadata else "") or ""
    if not text.strip():
        # trafilatura skips pages that look like boilerplate; plain text is better than nothing.
        from bs4 import BeautifulSoup

        soup = BeautifulSoup(html, "html.parser")
        for tag in soup(["script", "style", "noscript"]):
            tag.decompose()
        text = soup.get_text("\n")
        title = title or (soup.title.get_text(strip=True) if soup.title else "")
    if not text.strip():
        raise LoaderError("HTML has no text content")
    date = (metadata.date if metadata else "") or ""
    return [RawDocument(text=text, file=name, title=title, date=date, single_article=bool(title))]


def load_jsonl(path: Path, name: str) -> list[RawDocument]:
    docs: list[RawDocument] = []
    text = decode_text(_read_bytes(path))
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            log.warning("%s line %d: invalid JSON (%s), skipped", name, line_no, exc.msg)
            continue
        if not isinstance(record, dict) or not str(record.get("text", "")).strip():
            log.warning("%s line %d: no 'text' field, skipped", name, line_no)
            continue
        docs.append(
            RawDocument(
                text=str(record["text"]),
                file=name,
                title=str(record.get("title") or ""),
                date=str(record.get("date") or ""),
                source=str(record.get("source") or ""),
                single_article=True,
            )
        )
    if not docs:
        raise LoaderError("no valid JSON lines with a 'text' field")
    return docs


LOADERS: dict[str, Callable[[Path, str], list[RawDocument]]] = {
    ".txt": load_text,
    ".md": load_text,
    ".pdf": load_pdf,
    ".docx": load_docx,
    ".html": load_html,
    ".htm": load_html,
    ".jsonl": load_jsonl,
}

SUPPORTED_SUFFIXES = tuple(LOADERS)


def load_file(path: Path, name: str | None = None) -> list[RawDocument]:
    """Load one file; raises LoaderError (unsupported, empty, corrupt, undecodable)."""
    loader = LOADERS.get(path.suffix.lower())
    if loader is None:
        raise LoaderError(f"unsupported file type {path.suffix or '(none)'!r}")
    try:
        return loader(path, name or path.name)
    except LoaderError:
        raise
    except UnicodeDecodeError as exc:
        raise LoaderError(f"cannot decode text: {exc}") from exc
    except Exception as exc:  # a loader library failing on a malformed file
        raise LoaderError(f"{type(exc).__name__}: {exc}") from exc
