"""The crud-news side of the news answerability set (``eval/datasets/news.jsonl``).

Why here: the set's rows name articles of the CRUD-RAG news corpus
(``../shared/corpora/crud-rag-news-2023.jsonl.xz``, never committed) by id, and the
knowledge base they are asked against is a selection of that corpus made by
``eval/news/build.py``: topic clusters of related articles minus the held-out ones,
plus unrelated distractors. The selection is recorded as ids only in
``eval/news/kb.json``, so the validator, the build script and the tests agree on what
the knowledge base holds without the corpus text ever entering git. Quotes are checked
against the article *as the product ingests it* (loaded and cleaned by the ingest
pipeline), as :mod:`rag.evaluation.articles` does for the bundled corpus.
"""

from __future__ import annotations

import json
import lzma
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rag.config import PROJECT_ROOT
from rag.evaluation.articles import strip_whitespace
from rag.ingest.pipeline import articles_from_file
from rag.text.normalize import compact

CORPUS_NAME = "crud-news"
"""The ``corpus`` field of a news row; rows without it belong to the bundled corpus."""
DEFAULT_CRUD_FILE = PROJECT_ROOT.parent / "shared" / "corpora" / "crud-rag-news-2023.jsonl.xz"
DEFAULT_MANIFEST = PROJECT_ROOT / "eval" / "news" / "kb.json"
KB_FILE_NAME = "news.jsonl"
"""The one knowledge-base file the build writes; every evidence ``file`` of a news row."""


@dataclass(frozen=True)
class NewsArticle:
    """One article of the crud corpus as stored (no title: the text opens with the lead)."""

    id: str
    date: str
    source: str
    text: str


def read_crud(path: str | Path = DEFAULT_CRUD_FILE, ids: Iterable[str] | None = None) -> dict[str, NewsArticle]:
    """The corpus's articles by id (only ``ids`` when given), read in place from the ``.xz``."""
    wanted = set(ids) if ids is not None else None
    articles: dict[str, NewsArticle] = {}
    with lzma.open(path, "rt", encoding="utf-8") as fh:
        for line in fh:
            row = json.loads(line)
            if wanted is None or row["id"] in wanted:
                articles[row["id"]] = NewsArticle(row["id"], row.get("date", ""), row.get("source", ""), row["text"])
    return articles


@dataclass(frozen=True)
class Cluster:
    """A topic cluster: its tune/test side, the articles left in the KB and those held out."""

    name: str
    split: str
    kb: tuple[str, ...]
    held_out: tuple[str, ...]


@dataclass(frozen=True)
class KbManifest:
    """What the knowledge base holds, by id: the clusters' KB articles plus the distractors."""

    clusters: dict[str, Cluster]
    distractors: tuple[str, ...]
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def kb_ids(self) -> list[str]:
        """Every KB article, clusters first (in cluster order), then the distractors."""
        return [a for c in self.clusters.values() for a in c.kb] + list(self.distractors)

    @property
    def held_out_ids(self) -> list[str]:
        return [a for c in self.clusters.values() for a in c.held_out]

    def to_json(self) -> str:
        data = {
            "meta": self.meta,
            "clusters": [asdict(c) for c in self.clusters.values()],
            "distractors": list(self.distractors),
        }
        return json.dumps(data, ensure_ascii=False, indent=1) + "\n"


def load_manifest(path: str | Path = DEFAULT_MANIFEST) -> KbManifest:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    clusters = {
        c["name"]: Cluster(c["name"], c["split"], tuple(c["kb"]), tuple(c["held_out"])) for c in data["clusters"]
    }
    return KbManifest(clusters, tuple(data["distractors"]), data.get("meta", {}))


def kb_record(article: NewsArticle) -> dict[str, str]:
    """One line of the KB's ``news.jsonl`` as :func:`rag.ingest.loaders.load_jsonl` reads it."""
    return {"id": article.id, "date": article.date, "source": article.source, "text": article.text}


def cleaned_texts(articles: Sequence[NewsArticle]) -> dict[str, str]:
    """Each article's cleaned title + body without whitespace, as the ingest pipeline sees it.

    The articles go through the real loader and cleaner (one temporary JSONL file),
    because a quote that is only in the raw text can never be in a retrieved passage.
    """
    if not articles:
        return {}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / KB_FILE_NAME
        path.write_text("".join(json.dumps(kb_record(a), ensure_ascii=False) + "\n" for a in articles), "utf-8")
        cleaned = articles_from_file(path, KB_FILE_NAME)
    if len(cleaned) != len(articles):  # single_article documents: one article per line
        raise ValueError(f"{len(articles)} news articles became {len(cleaned)} after cleaning")
    return {a.id: strip_whitespace(f"{c.title}\n{c.text}") for a, c in zip(articles, cleaned, strict=True)}


def is_news_row(rec: Mapping[str, Any]) -> bool:
    return rec.get("corpus") == CORPUS_NAME


def _where(rec: Mapping[str, Any]) -> str:
    return f"{rec.get('id', '?')} (line {rec.get('_line', '?')})"


def check_rows_against_manifest(records: Sequence[Mapping[str, Any]], manifest: KbManifest) -> list[str]:
    """What needs no corpus text: cluster, split, article side (KB or held out), evidence file, absent facts."""
    problems: list[str] = []
    kb_of = {a: c for c in manifest.clusters.values() for a in c.kb}
    held_of = {a: c for c in manifest.clusters.values() for a in c.held_out}
    for rec in records:
        where = _where(rec)
        cluster = manifest.clusters.get(str(rec.get("cluster")))
        if cluster is None:
            problems.append(f"{where}: cluster {rec.get('cluster')!r} is not in {DEFAULT_MANIFEST.name}")
            continue
        if rec.get("split") != cluster.split:
            problems.append(f"{where}: split {rec.get('split')!r} but cluster {cluster.name} is {cluster.split!r}")
        article = rec.get("article")
        answerable = rec.get("type") != "unanswerable"
        home = (kb_of if answerable else held_of).get(str(article))
        side = "knowledge base" if answerable else "held-out articles"
        if home is None or home.name != cluster.name:
            problems.append(f"{where}: article {article!r} is not among cluster {cluster.name}'s {side}")
        for ev in rec.get("evidence") or []:
            if isinstance(ev, Mapping) and ev.get("file") != KB_FILE_NAME:
                problems.append(f"{where}: evidence file must be {KB_FILE_NAME!r}, not {ev.get('file')!r}")
        absent = rec.get("absent")
        if answerable and absent:
            problems.append(f"{where}: absent facts on an answerable row")
        if not answerable and (
            not isinstance(absent, list) or not absent or not all(isinstance(a, str) and a.strip() for a in absent)
        ):
            problems.append(f"{where}: an unanswerable news row needs 'absent': the held-out fact strings")
    return problems


def check_rows_against_corpus(
    records: Sequence[Mapping[str, Any]], manifest: KbManifest, articles: Mapping[str, NewsArticle]
) -> list[str]:
    """Quotes verbatim in the cleaned article; absent facts in the held-out article and in no KB article."""
    problems: list[str] = []
    missing = [a for a in manifest.kb_ids if a not in articles]
    if missing:
        return [f"{len(missing)} KB article(s) of the manifest are not in the corpus file, e.g. {missing[0]}"]
    needed = {str(r.get("article")) for r in records} & set(articles)
    cleaned = cleaned_texts([articles[a] for a in sorted(needed)])
    kb_compact = [compact(articles[a].text) for a in manifest.kb_ids]
    for rec in records:
        where, article = _where(rec), str(rec.get("article"))
        if article not in articles:
            problems.append(f"{where}: article {article!r} is not in the crud corpus")
            continue
        for k, ev in enumerate(rec.get("evidence") or []):
            quote = ev.get("quote") if isinstance(ev, Mapping) else None
            if isinstance(quote, str) and strip_whitespace(quote) not in cleaned[article]:
                problems.append(f"{where} evidence[{k}]: quote not in the cleaned text of {article}: {quote[:40]}…")
        for fact in rec.get("absent") or []:
            if not isinstance(fact, str):
                continue
            if compact(fact) not in compact(articles[article].text):
                problems.append(f"{where}: absent fact {fact!r} is not in its held-out article {article}")
            hits = sum(compact(fact) in text for text in kb_compact)
            if hits:
                problems.append(f"{where}: absent fact {fact!r} occurs in {hits} KB article(s)")
    return problems
