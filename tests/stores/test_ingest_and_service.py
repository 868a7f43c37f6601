"""Ingest by file hash into either store, and the service answering from it (hash embedder, no model)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.config import Settings
from rag.ingest.pipeline import ingest
from rag.retrieve.base import SearchFilters
from rag.service import RagService
from rag.stores.factory import open_store, release_stores
from rag.stores.ingest import ingest_into_store
from tests.stores.stores_support import open_kind

FEE_ARTICLE = (
    "美国大型PE调降管理费破解募资难困局\n\n"
    "黑石集团旗下的BXPE基金面向高净值个人投资者发行。黑石BXPE将收取1.25%的管理费，低于行业惯例的2%。"
    "业内人士认为，调降管理费是为了吸引更多资金。\n"
)
CITY_ARTICLE = "崂山区城市云脑汇集十六亿条数据\n\n青岛崂山区建设城市云脑平台。城市云脑汇集了16亿条数据，覆盖交通、环保、应急等领域。\n"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    folder = tmp_path / "corpus"
    folder.mkdir()
    (folder / "finance.txt").write_text(FEE_ARTICLE, encoding="utf-8")
    (folder / "city.txt").write_text(CITY_ARTICLE, encoding="utf-8")
    return folder


def test_ingest_is_incremental_by_file_hash(open_store, kind, corpus, embedder, settings, tmp_path):
    store = open_store(kind)
    lock = tmp_path / "lock"
    first = ingest_into_store(store, [corpus], settings, embedder, progress=False, lock_dir=lock)
    assert sorted(first.files_changed) == ["city.txt", "finance.txt"] and first.chunks_embedded == first.chunks > 0
    version = store.version()

    again = ingest_into_store(store, [corpus], settings, embedder, progress=False, lock_dir=lock)
    assert again.files_changed == [] and again.chunks_embedded == 0 and store.version() == version

    (corpus / "city.txt").write_text(CITY_ARTICLE + "\n平台可以实时发现道路拥堵并调度信号灯。\n", encoding="utf-8")
    changed = ingest_into_store(store, [corpus], settings, embedder, progress=False, lock_dir=lock)
    assert changed.files_changed == ["city.txt"] and store.version() != version
    assert 0 < changed.chunks_embedded < changed.chunks  # finance.txt untouched, nothing of it re-embedded
    assert any("信号灯" in c.text for c in store.chunks())
    assert store.manifest().files == changed.per_file

    (corpus / "finance.txt").unlink()
    removed = ingest_into_store(store, [corpus], settings, embedder, progress=False, lock_dir=lock)
    assert removed.files_removed == ["finance.txt"]
    assert {c.file for c in store.chunks()} == {"city.txt"} and sorted(store.manifest().files) == ["city.txt"]


def test_another_embedder_starts_afresh(open_store, kind, corpus, embedder, settings, tmp_path):
    from rag.embed.fake import HashEmbedder

    store = open_store(kind)
    ingest_into_store(store, [corpus], settings, embedder, progress=False, lock_dir=tmp_path)
    other = HashEmbedder(dimension=32)
    report = ingest_into_store(store, [corpus], settings, other, progress=False, lock_dir=tmp_path)
    assert report.chunks_embedded == report.chunks
    assert store.manifest().embedder == other.name and store.manifest().dimension == 32
    assert len(store.dense_search(other.embed_query("管理费"), 30)) == len(store.chunks()) == report.chunks


def test_service_answers_from_milvus_end_to_end(corpus, embedder, settings, tmp_path):
    """RAG_STORE=milvus: `rag ingest` (the pipeline) then an extractive answer with a checked citation."""
    configured = settings.model_copy(update={
        "store": "milvus", "milvus_uri": str(tmp_path / "m" / "milvus.db"), "index_dir": tmp_path / "index",
        # Two articles give every term a tiny IDF: the thresholds calibrated on the corpus would refuse.
        "min_bm25_score": 0.1,
    })
    try:
        report = ingest([corpus], configured.index_dir, embedder=embedder, settings=configured, progress=False)
        assert sorted(report.files_changed) == ["city.txt", "finance.txt"]
        service = RagService(configured, embedder=embedder).warm_up()
        version = service.index_version
        answer = service.ask("BXPE基金的管理费是多少？", mode="extractive")
        assert not answer.refused and "1.25%" in answer.answer
        assert answer.citations and answer.citations[0].file == "finance.txt"
        found = service.search("城市云脑", filters=SearchFilters(files=["city.txt"]))
        assert found.results and all(r.chunk.file == "city.txt" for r in found.results)
        assert sorted(service.index_manifest.files) == ["city.txt", "finance.txt"]
        assert service.snapshot().idf.df.get("管理费", 0) > 0

        (corpus / "city.txt").unlink()
        ingest([corpus], configured.index_dir, embedder=embedder, settings=configured, progress=False)
        assert service.index_version != version  # the next question picks up the new version
        assert sorted(service.index_manifest.files) == ["finance.txt"]
    finally:
        release_stores()


def test_the_factory_opens_the_configured_store(settings, tmp_path):
    assert open_store(settings, tmp_path).kind == "embedded"
    milvus = settings.model_copy(update={"store": "milvus", "milvus_uri": str(tmp_path / "x.db")})
    try:
        assert open_store(milvus).kind == "milvus" and open_store(milvus) is open_store(milvus)
    finally:
        release_stores()
    assert open_kind("milvus", tmp_path / "k").kind == "milvus"


def test_default_milvus_uri_is_milvus_lite_in_the_index_folder(tmp_path):
    configured = Settings(_env_file=None, index_dir=tmp_path / "idx", store="milvus")
    assert configured.milvus_target == str(tmp_path / "idx" / "milvus.db")
