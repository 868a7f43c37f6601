"""Issue 13, defect 4: a damaged index version is never served and never a traceback.

Every kind of damage the probe found (random bytes or a truncation in dense.faiss, a
malformed chunks.sqlite, a broken manifest.json, CURRENT naming a missing version) is
made on real version folders written by rag.index.store, and must give one
IndexCorruptError line that names the file and offers the previous complete version.
"""

from __future__ import annotations

import json
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from rag.errors import IndexBusyError, IndexCorruptError, IndexNotFoundError, RagError
from rag.fileutil import sha256_file
from rag.index.store import current_version_dir, list_versions, load_index, rollback, verify_index, writer_lock
from tests.index import synthetic

Damage = Callable[[Path], None]

# (file damaged, how, whether the manifest still has checksums, words the message must hold)
CASES: list[tuple[str, Damage, bool, str]] = [
    ("dense.faiss", synthetic.random_bytes, True, "校验和不符"),
    ("dense.faiss", synthetic.truncate, True, "校验和不符"),
    ("chunks.sqlite", synthetic.scribble, True, "校验和不符"),
    ("chunks.sqlite", synthetic.random_bytes, True, "校验和不符"),
    # Versions written before checksums: the files themselves must be read and found wanting.
    ("dense.faiss", synthetic.random_bytes, False, "无法读取"),
    ("dense.faiss", synthetic.truncate, False, "无法读取"),
    ("chunks.sqlite", synthetic.random_bytes, False, "无法读取"),
    ("chunks.sqlite", synthetic.truncate, False, "无法读取"),
]


def two_versions(index_dir: Path):
    """An older complete version (3 chunks) and the live one (5 chunks)."""
    older = synthetic.write(index_dir, n=3, seed=1, file="old.txt")
    live = synthetic.write(index_dir, n=5, seed=2, file="new.txt")
    return older, live


def corrupt_message(index_dir: Path) -> str:
    with pytest.raises(IndexCorruptError) as excinfo:
        load_index(index_dir)
    assert isinstance(excinfo.value, RagError)
    message = str(excinfo.value)
    assert "\n" not in message  # one line
    assert message.startswith("索引已损坏：")
    return message


# ------------------------------------------------------------------ checksums
def test_manifest_records_the_sha256_of_the_data_files(tmp_path: Path):
    path, *_ = synthetic.write(tmp_path)
    recorded = json.loads((path / "manifest.json").read_text(encoding="utf-8"))["checksums"]
    assert recorded == {name: sha256_file(path / name) for name in ("dense.faiss", "chunks.sqlite")}
    assert load_index(tmp_path).manifest.checksums == recorded


def test_a_manifest_without_checksums_still_loads_with_a_warning(tmp_path: Path, caplog):
    path, rows, *_ = synthetic.write(tmp_path)
    synthetic.drop_checksums(path)
    with caplog.at_level(logging.WARNING, logger="rag.index.version"):
        loaded = load_index(tmp_path)
    assert loaded.chunks == rows and loaded.manifest.checksums == {}
    assert any("no checksums" in r.getMessage() and r.levelno == logging.WARNING for r in caplog.records)


# ------------------------------------------------------------------ every damage kind
@pytest.mark.parametrize(("file", "damage", "checksummed", "words"), CASES,
                         ids=[f"{c[0]}-{c[1].__name__}-{'sum' if c[2] else 'nosum'}" for c in CASES])
def test_damaged_data_file_is_one_clear_line_offering_the_previous_version(
    tmp_path: Path, file: str, damage: Damage, checksummed: bool, words: str
):
    (older, *_), (live, *_) = two_versions(tmp_path)
    if not checksummed:
        synthetic.drop_checksums(live)
    damage(live / file)
    message = corrupt_message(tmp_path)
    assert file in message and words in message
    assert live.name in message  # which version is damaged
    assert f"上一个完整版本 {older.name} 可用" in message and "rag index rollback" in message


@pytest.mark.parametrize(
    ("breakage", "words"),
    [
        (lambda p: p.write_text('{"embedder": "fake", "dimen', encoding="utf-8"), "manifest.json 无法解析"),
        (lambda p: p.write_text('{"embedder": "fake"}', encoding="utf-8"), "manifest.json 无法解析"),
        (lambda p: p.write_text("[1, 2]", encoding="utf-8"), "manifest.json 无法解析"),
        (lambda p: p.write_bytes(b"\xff\xfe\x00garbage"), "manifest.json 无法解析"),
        (lambda p: p.unlink(), "缺少 manifest.json"),
    ],
    ids=["truncated-json", "missing-keys", "not-an-object", "not-utf8", "missing"],
)
def test_broken_manifest_is_one_clear_line(tmp_path: Path, breakage: Damage, words: str):
    (older, *_), (live, *_) = two_versions(tmp_path)
    breakage(live / "manifest.json")
    message = corrupt_message(tmp_path)
    assert words in message and older.name in message


def test_a_missing_data_file_is_named(tmp_path: Path):
    _, (live, *_) = two_versions(tmp_path)
    (live / "dense.faiss").unlink()
    assert "缺少 dense.faiss" in corrupt_message(tmp_path)


def test_dimension_out_of_step_with_the_manifest_is_damage(tmp_path: Path):
    _, (live, *_) = two_versions(tmp_path)
    synthetic.drop_checksums(live)
    data = json.loads((live / "manifest.json").read_text(encoding="utf-8"))
    data["dimension"] = synthetic.DIM * 2
    (live / "manifest.json").write_text(json.dumps(data), encoding="utf-8")
    assert "维度" in corrupt_message(tmp_path)


def test_current_naming_a_missing_version_is_damage_not_no_index(tmp_path: Path):
    (older, *_), (live, *_) = two_versions(tmp_path)
    (tmp_path / "CURRENT").write_text("20991231-000000-1-000000", encoding="utf-8")
    message = corrupt_message(tmp_path)
    assert "CURRENT" in message and "20991231-000000-1-000000" in message and "不存在" in message
    assert f"上一个完整版本 {live.name} 可用" in message  # any complete version is older than a missing one
    assert "rag ingest` first" not in message


@pytest.mark.parametrize("garbage", ["", ".", "..", "../versions"])
def test_current_holding_garbage_never_resolves_to_a_folder(tmp_path: Path, garbage: str):
    two_versions(tmp_path)
    (tmp_path / "CURRENT").write_text(garbage, encoding="utf-8")
    assert current_version_dir(tmp_path) is None
    assert "CURRENT" in corrupt_message(tmp_path)


def test_without_a_sound_older_version_the_message_says_how_to_rebuild(tmp_path: Path):
    (older, *_), (live, *_) = two_versions(tmp_path)
    synthetic.truncate(older / "dense.faiss")
    synthetic.random_bytes(live / "dense.faiss")
    message = corrupt_message(tmp_path)
    assert "没有可用的旧版本" in message and "rag ingest" in message and "rollback" not in message


# ------------------------------------------------------------------ verify and rollback
def test_verify_reports_every_version_newest_first(tmp_path: Path):
    (older, *_), (live, *_) = two_versions(tmp_path)
    assert [(s.name, s.live, s.ok, s.chunks) for s in verify_index(tmp_path)] == [
        (live.name, True, True, 5), (older.name, False, True, 3)]
    synthetic.random_bytes(live / "dense.faiss")
    newest, oldest = verify_index(tmp_path)
    assert not newest.ok and "dense.faiss" in (newest.problem or "") and newest.chunks is None
    assert oldest.ok


def test_rollback_restores_the_previous_answers(tmp_path: Path):
    (older, old_rows, old_tokens, old_vectors), (live, *_) = two_versions(tmp_path)
    synthetic.random_bytes(live / "dense.faiss")
    corrupt_message(tmp_path)
    assert rollback(tmp_path) == older.name
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8") == older.name
    restored = load_index(tmp_path)
    assert restored.version == older.name
    assert restored.chunks == old_rows and restored.tokens == old_tokens
    scores, ids = restored.faiss_index.search(old_vectors[:1], 1)
    assert ids[0][0] == 0 and scores[0][0] == pytest.approx(1.0, abs=1e-5)
    # The damaged newer version stays until the next write prunes it; the next write keeps the restored one.
    assert [p.name for p in list_versions(tmp_path)] == [older.name, live.name]
    newest, *_ = synthetic.write(tmp_path, n=2, seed=9)
    assert [p.name for p in list_versions(tmp_path)] == [older.name, newest.name]


def test_rollback_skips_a_damaged_older_version(tmp_path: Path):
    (older, old_rows, *_), (live, *_) = two_versions(tmp_path)
    oldest = tmp_path / "versions" / "20000101-000000-1-000000"
    shutil.copytree(older, oldest)
    synthetic.scribble(older / "chunks.sqlite")
    synthetic.truncate(live / "dense.faiss")
    assert f"上一个完整版本 {oldest.name} 可用" in corrupt_message(tmp_path)
    assert rollback(tmp_path) == oldest.name
    assert load_index(tmp_path).chunks == old_rows


def test_rollback_goes_one_sound_version_back_at_a_time(tmp_path: Path):
    (older, *_), (live, *_) = two_versions(tmp_path)
    assert rollback(tmp_path) == older.name  # a sound live version can be rolled back too
    with pytest.raises(IndexCorruptError, match="没有可以回退的完整旧版本") as excinfo:
        rollback(tmp_path)  # nothing older than the oldest
    assert "\n" not in str(excinfo.value)
    assert load_index(tmp_path).version == older.name  # a refused rollback changes nothing


def test_rollback_with_a_damaged_older_version_refuses(tmp_path: Path):
    (older, *_), (live, *_) = two_versions(tmp_path)
    synthetic.scribble(older / "chunks.sqlite")
    with pytest.raises(IndexCorruptError, match="没有可以回退"):
        rollback(tmp_path)
    assert (tmp_path / "CURRENT").read_text(encoding="utf-8") == live.name


def test_rollback_without_an_index_is_no_index(tmp_path: Path):
    with pytest.raises(IndexNotFoundError):
        rollback(tmp_path)


def test_rollback_waits_for_no_ingest(tmp_path: Path):
    two_versions(tmp_path)
    with writer_lock(tmp_path), pytest.raises(IndexBusyError):
        rollback(tmp_path)


# ------------------------------------------------------------------ the service on top
def test_the_service_refuses_a_damaged_index_and_answers_again_after_rollback(tmp_path: Path):
    from rag.config import Settings
    from rag.embed.fake import HashEmbedder
    from rag.service import RagService

    embedder = HashEmbedder(dimension=64)
    index_dir = tmp_path / "index"
    older = synthetic.news_version(index_dir, embedder, ["fund.txt", "cars.txt"])
    live = synthetic.news_version(index_dir, embedder, ["cars.txt"])
    synthetic.random_bytes(live / "dense.faiss")
    settings = Settings(_env_file=None, data_dir=tmp_path / "runtime", index_dir=index_dir, mode="extractive",
                        min_dense_score=0.0, min_bm25_score=0.0)
    with pytest.raises(IndexCorruptError, match=f"上一个完整版本 {older.name} 可用"):
        RagService(settings, embedder=embedder).warm_up()

    assert rollback(index_dir) == older.name
    service = RagService(settings, embedder=embedder).warm_up()
    assert service.index_version == older.name
    answer = service.ask("黑石BXPE基金的管理费率是多少？")
    assert not answer.refused and "1.25%" in answer.answer
    assert [c.file for c in answer.citations] and {c.file for c in answer.citations} == {"fund.txt"}
