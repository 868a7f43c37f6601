"""What every benchmark importer shares: the corpus writer, quote picking, the summary.

Quotes are cut short (:data:`MAX_QUOTE_CHARS`) so that one fits inside one chunk and
retrieval can hit it; texts are compared after :func:`rag.text.normalize.compact`.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections import Counter
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.text.normalize import compact
from rag.text.sentences import split_sentences
from rag.verify.support import support_score

logger = logging.getLogger(__name__)

MAX_QUOTE_CHARS = 120


@dataclass
class ImportSummary:
    """What an import wrote (also saved as ``import.json``)."""

    source: str
    input: str
    corpus_dir: str
    dataset: str
    questions: int = 0
    documents: int = 0
    by_type: dict[str, int] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)


class Corpus:
    """Writes each distinct document once (deduplicated by content) and returns its file name."""

    def __init__(self, root: Path, prefix: str) -> None:
        self.root = root
        self.prefix = prefix
        self.files: dict[str, str] = {}
        root.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha1(compact(text).encode("utf-8")).hexdigest()[:12]

    def name(self, text: str) -> str:
        return f"{self.prefix}_{self.key(text)}.txt"

    def add(self, text: str) -> str:
        k = self.key(text)
        if k not in self.files:
            self.files[k] = self.name(text)
            (self.root / self.files[k]).write_text(text.strip() + "\n", encoding="utf-8")
        return self.files[k]


def read_json_or_jsonl(path: Path) -> Any:
    """A benchmark file: one JSON document, or JSON Lines (RGB ships both)."""
    text = path.read_text(encoding="utf-8-sig")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return [json.loads(line) for line in text.splitlines() if line.strip()]


def quote_containing(doc: str, needles: Iterable[str]) -> str | None:
    """The first sentence of ``doc`` containing one of ``needles`` (normalised)."""
    wanted = [compact(n) for n in needles if compact(n)]
    for sentence in split_sentences(doc):
        ns = compact(sentence)
        if any(w in ns for w in wanted):
            return clip(sentence, wanted)
    return None


def clip(sentence: str, wanted: list[str] | None = None) -> str:
    """Keep quotes short enough to sit inside one chunk, around the answer if given."""
    s = sentence.strip()
    if len(s) <= MAX_QUOTE_CHARS:
        return s
    if wanted:
        for w in wanted:
            i = s.find(w)
            if i >= 0:
                start = max(0, min(i - MAX_QUOTE_CHARS // 3, len(s) - MAX_QUOTE_CHARS))
                return s[start : start + MAX_QUOTE_CHARS]
    return s[:MAX_QUOTE_CHARS]


def best_quote(doc: str, target: str) -> str | None:
    """The sentence of ``doc`` that best supports ``target`` (answer or question)."""
    sentences = [s for s in split_sentences(doc) if len(compact(s)) >= 8]
    if not sentences:
        return clip(doc) if doc.strip() else None
    best = max(sentences, key=lambda s: support_score(target, s))
    return clip(best)


def write_dataset(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def finish(
    source: str, src: Path, out_dir: Path, options: dict[str, Any], rows: list[dict[str, Any]], corpus: Corpus
) -> ImportSummary:
    """Write the dataset and ``import.json``; returns what was written."""
    summary = ImportSummary(
        source=source,
        input=str(src),
        corpus_dir=str(out_dir / "corpus"),
        dataset=str(out_dir / "dataset.jsonl"),
        questions=len(rows),
        documents=len(corpus.files),
        by_type=dict(Counter(r["type"] for r in rows)),
        options=options,
    )
    write_dataset(Path(summary.dataset), rows)
    (out_dir / "import.json").write_text(json.dumps(asdict(summary), ensure_ascii=False, indent=2), encoding="utf-8")
    logger.info("%s: %d questions, %d documents -> %s", source, summary.questions, summary.documents, out_dir)
    return summary
