"""Build the knowledge base of the news answerability set from the CRUD-RAG news corpus.

Issue 12 §2: the local mode answers ~4 in 10 unanswerable questions when the knowledge
base holds plenty of same-topic news but not the asked fact. This script makes such a
knowledge base, deterministically (seeded), from
``../shared/corpora/crud-rag-news-2023.jsonl.xz`` (46,956 articles of July–August 2023,
read in place; its text never enters git):

1. **Topic clusters** (``CLUSTERS`` below, 16 of them): an article belongs to the first
   cluster whose lead terms (any) occur in its first 300 characters and whose body
   terms (all) occur anywhere — same statistic series (provincial GDP, CPI, forex
   reserves), same event (Universiade, BRICS summit, typhoon Doksuri), same kind of
   report (half-year results). Each cluster keeps its ``MAX_MEMBERS`` articles with the
   lowest seeded hash; each cluster is on one side of the tune/test split.
2. **Held out**: the first ``HELD_SHARE`` of each cluster's members (seeded hash order),
   plus every article, anywhere, holding a fact an unanswerable question of
   ``eval/datasets/news.jsonl`` is built on (its ``absent`` strings): news repeats
   itself, so the other agencies' copies of a held-out fact must go too.
3. **Distractors**: ``N_DISTRACTORS`` articles matching no cluster and holding no
   absent fact (seeded hash order).

Writes ``OUT/news.jsonl`` (the KB: cluster KB articles + distractors, one
``{"id","date","source","text"}`` per line, as ``rag.ingest.loaders.load_jsonl``
reads it) and the ids of every side to ``eval/news/kb.json`` (committed: ids only),
which the validator and the tests read.
``--check`` only verifies that a fresh build reproduces ``eval/news/kb.json``.

The questions are written by hand from the held-out articles (unanswerable near
misses) and the KB articles (answerable); ``eval/news/review.py`` prints the articles
to write from and, for each unanswerable question, the closest KB articles (BM25) to
read before accepting it.

Commands (from the repository root)::

    .venv/bin/python eval/news/build.py /tmp/news_kb              # KB + eval/news/kb.json
    .venv/bin/python eval/news/build.py /tmp/news_kb --check      # reproduces kb.json?
    .venv/bin/rag ingest /tmp/news_kb/news.jsonl --index /tmp/news_idx   # 1317 chunks: 10-25 min on 2 shared cores
    .venv/bin/python eval/validate_dataset.py eval/datasets/news.jsonl --min-total 160
    .venv/bin/python eval/news/review.py absent                    # closest KB text per near miss
    .venv/bin/rag eval run eval/datasets/news.jsonl --index /tmp/news_idx --mode extractive --split tune --out runs/news-extractive-tune
    .venv/bin/rag eval run eval/datasets/news.jsonl --index /tmp/news_idx --mode extractive --split test --out runs/news-extractive-test
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

from rag.evaluation.news import (
    DEFAULT_CRUD_FILE,
    DEFAULT_MANIFEST,
    KB_FILE_NAME,
    Cluster,
    KbManifest,
    NewsArticle,
    kb_record,
    read_crud,
)
from rag.text.normalize import compact

logger = logging.getLogger("eval.news.build")

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DATASET = REPO_ROOT / "eval" / "datasets" / "news.jsonl"

SEED = 12
MAX_MEMBERS = 24
HELD_SHARE = 0.34
N_DISTRACTORS = 300
LEAD_CHARS = 300
# Very short items are captions, very long ones digests of many stories; both make
# poor cluster members and long ones slow the ingest down.
MIN_CHARS, MAX_CHARS = 250, 1500


@dataclass(frozen=True)
class ClusterSpec:
    """A topic: any of ``lead`` in the first LEAD_CHARS characters and all of ``body`` anywhere."""

    name: str
    split: str
    lead: tuple[str, ...]
    body: tuple[str, ...] = ()

    def matches(self, text: str) -> bool:
        return any(t in text[:LEAD_CHARS] for t in self.lead) and all(t in text for t in self.body)


CLUSTERS: tuple[ClusterSpec, ...] = (
    ClusterSpec("gdp", "test", ("地区生产总值",), ("上半年",)),
    ClusterSpec("earnings", "tune", ("半年报", "半年度报告", "上半年业绩"), ("净利润",)),
    ClusterSpec("launch", "test", ("卫星发射中心",), ("运载火箭",)),
    ClusterSpec("forex", "tune", ("外汇储备", "外汇管理局", "结售汇")),
    ClusterSpec("swimming", "tune", ("世界游泳锦标赛", "游泳世锦赛", "福冈世锦赛")),
    ClusterSpec("boxoffice", "test", ("票房",), ("暑期档",)),
    ClusterSpec("hogs", "tune", ("猪肉价格", "生猪", "猪价")),
    ClusterSpec("summer_travel", "test", ("暑运",), ("旅客",)),
    ClusterSpec("universiade", "tune", ("大运会",), ("金牌",)),
    ClusterSpec("brics", "test", ("金砖",), ("峰会",)),
    ClusterSpec("prices", "tune", ("居民消费价格", "工业生产者出厂价格", "CPI")),
    ClusterSpec("consumption", "test", ("社会消费品零售总额",)),
    ClusterSpec("typhoon", "tune", ("杜苏芮",), ("转移",)),
    ClusterSpec("asian_games", "test", ("杭州亚运会",), ("亚运",)),
    ClusterSpec("trade", "tune", ("进出口",), ("海关",)),
    ClusterSpec("ev", "test", ("新能源汽车",), ("销量",)),
)


def rank(seed: int, salt: str, article_id: str) -> str:
    """A seeded, order-independent sort key: the same articles come out whatever the file order."""
    return hashlib.sha256(f"{seed}:{salt}:{article_id}".encode()).hexdigest()


def absent_facts(dataset: Path) -> list[str]:
    """The ``absent`` strings of the dataset's unanswerable rows (none when there is no dataset yet)."""
    if not dataset.is_file():
        return []
    facts: list[str] = []
    for line in dataset.read_text(encoding="utf-8").splitlines():
        if line.strip():
            facts += [f for f in json.loads(line).get("absent") or [] if isinstance(f, str) and f.strip()]
    return sorted(set(facts))


def _holds_any(text: str, facts: Sequence[str]) -> bool:
    folded = compact(text)
    return any(f in folded for f in facts)


def select(
    articles: Iterable[NewsArticle],
    facts: Sequence[str] = (),
    specs: Sequence[ClusterSpec] = CLUSTERS,
    seed: int = SEED,
) -> KbManifest:
    """The clusters (KB and held-out ids) and distractors; ``facts`` must not be in the KB."""
    folded_facts = [compact(f) for f in facts]
    members: dict[str, list[NewsArticle]] = {s.name: [] for s in specs}
    unclustered: list[NewsArticle] = []
    for art in articles:
        if not MIN_CHARS <= len(art.text) <= MAX_CHARS:
            continue
        spec = next((s for s in specs if s.matches(art.text)), None)
        if spec is not None:
            members[spec.name].append(art)
        elif not any(t in art.text for s in specs for t in s.lead):  # a distractor shares no topic term
            unclustered.append(art)
    clusters: dict[str, Cluster] = {}
    for spec in specs:
        chosen = sorted(members[spec.name], key=lambda a: rank(seed, spec.name, a.id))[:MAX_MEMBERS]
        n_held = round(HELD_SHARE * len(chosen))
        held = [a.id for i, a in enumerate(chosen) if i < n_held or _holds_any(a.text, folded_facts)]
        kb = [a.id for a in chosen if a.id not in held]
        clusters[spec.name] = Cluster(spec.name, spec.split, tuple(sorted(kb)), tuple(sorted(held)))
    pool = [a for a in unclustered if not _holds_any(a.text, folded_facts)]
    distractors = sorted(a.id for a in sorted(pool, key=lambda a: rank(seed, "distractor", a.id))[:N_DISTRACTORS])
    meta = {
        "seed": seed,
        "max_members": MAX_MEMBERS,
        "held_share": HELD_SHARE,
        "n_distractors": N_DISTRACTORS,
    }
    return KbManifest(clusters, tuple(distractors), meta)


def write_kb(manifest: KbManifest, articles: dict[str, NewsArticle], out_dir: Path) -> Path:
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / KB_FILE_NAME
    with path.open("w", encoding="utf-8") as fh:
        for aid in manifest.kb_ids:
            fh.write(json.dumps(kb_record(articles[aid]), ensure_ascii=False) + "\n")
    return path


app = typer.Typer(add_completion=False, help=__doc__.splitlines()[0])


@app.command()
def main(
    out_dir: Annotated[Path, typer.Argument(help="Output folder outside git (news.jsonl).")],
    crud: Annotated[Path, typer.Option("--crud", help="The CRUD-RAG news corpus (.jsonl.xz).")] = DEFAULT_CRUD_FILE,
    dataset: Annotated[Path, typer.Option("--dataset", help="Its absent facts are kept out of the KB.")] = DEFAULT_DATASET,
    manifest_path: Annotated[Path, typer.Option("--manifest", help="Where the ids go (committed).")] = DEFAULT_MANIFEST,
    check: Annotated[bool, typer.Option("--check", help="Only verify that the build reproduces --manifest.")] = False,
) -> None:
    """Select the clusters, held-out articles and distractors; write the KB and the ids."""
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")
    if not crud.is_file():
        typer.echo(f"找不到语料 (corpus not found): {crud}", err=True)
        raise typer.Exit(2)
    articles = read_crud(crud)
    manifest = select(articles.values(), absent_facts(dataset))
    if check:
        same = manifest_path.is_file() and manifest_path.read_text(encoding="utf-8") == manifest.to_json()
        typer.echo(f"{manifest_path}: {'reproduced' if same else 'DIFFERS from a fresh build'}")
        raise typer.Exit(0 if same else 1)
    kb_file = write_kb(manifest, articles, out_dir)
    manifest_path.write_text(manifest.to_json(), encoding="utf-8")
    for c in manifest.clusters.values():
        typer.echo(f"  {c.name:<14} {c.split:<5} kb {len(c.kb):>3}  held out {len(c.held_out):>3}")
    typer.echo(
        f"{kb_file}: {len(manifest.kb_ids)} articles ({len(manifest.kb_ids) - len(manifest.distractors)} in clusters, "
        f"{len(manifest.distractors)} distractors), {len(manifest.held_out_ids)} held out; ids in {manifest_path}"
    )


if __name__ == "__main__":
    app()
