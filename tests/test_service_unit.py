"""The engine without a model: a hash embedder over a tiny corpus, for the rules that
need no real model (snapshots, errors, fallback, cheap construction)."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

import rag.service
from rag.config import Settings
from rag.embed.fake import HashEmbedder
from rag.errors import IndexNotFoundError
from rag.ingest.pipeline import ingest
from rag.service import FALLBACK_NOTICE, REFUSAL, RESTATED_NOTICE, RagService
from rag.types import Answer

FILLER = "业内人士表示，这一变化值得持续关注，相关机构将在年内发布更多细节。" * 5
ARTICLES = {
    "fund.txt": f"黑石BXPE基金\n黑石BXPE基金的管理费率为1.25%，业绩报酬为12.5%。该基金面向富裕个人投资者。{FILLER}\n",
    "cars.txt": f"汽车出口创新高\n2023年中国汽车出口491万辆，同比增长57.9%，出口量跃居全球第一。{FILLER}\n",
}


def dead_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture()
def settings(tmp_path: Path) -> Settings:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for name, text in ARTICLES.items():
        (corpus / name).write_text(text, encoding="utf-8")
    # The thresholds are calibrated for e5; the hash embedder's scores are lower.
    return Settings(
        _env_file=None, corpus_dir=corpus, data_dir=tmp_path / "runtime", index_dir=tmp_path / "index",
        mode="extractive", min_dense_score=0.0, min_bm25_score=0.0,
        openai_base_url=f"http://127.0.0.1:{dead_port()}/v1", openai_model="m", llm_timeout_s=5,
    )


@pytest.fixture()
def service(settings: Settings) -> RagService:
    embedder = HashEmbedder()
    ingest([settings.corpus_dir], settings.index_dir, embedder=embedder, settings=settings, progress=False)
    return RagService(settings, embedder=embedder).warm_up()


def test_constructor_is_cheap_and_warm_up_loads(tmp_path: Path) -> None:
    svc = RagService(Settings(_env_file=None, index_dir=tmp_path / "none"), embedder=HashEmbedder())
    with pytest.raises(IndexNotFoundError):
        svc.warm_up()


def test_warm_up_also_loads_the_question_tagger(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    embedder = HashEmbedder()
    ingest([settings.corpus_dir], settings.index_dir, embedder=embedder, settings=settings, progress=False)
    tagged: list[str] = []
    monkeypatch.setattr("rag.index.tokenize.tag", lambda text: tagged.append(text) or [])
    RagService(settings, embedder=embedder).warm_up()
    assert tagged  # jieba's part-of-speech model loads at warm-up, not on the first question


def test_extractive_answer_is_typed_and_cited(service: RagService) -> None:
    answer = service.ask("黑石BXPE基金的管理费率是多少？")
    assert isinstance(answer, Answer) and not answer.refused
    assert "1.25%" in answer.answer and answer.citations[0].file == "fund.txt"
    assert answer.timings.total_ms is not None and answer.timings.ttft_ms is None


def test_a_question_keeps_one_index_version_while_a_new_one_is_published(service: RagService, settings: Settings) -> None:
    before = service.snapshot()
    stream = service.ask_stream("2023年中国汽车出口了多少辆？")
    (settings.corpus_dir / "more.txt").write_text(f"港口吞吐量\n今年前三季度港口货物吞吐量保持增长。{FILLER}\n", encoding="utf-8")
    ingest([settings.corpus_dir], settings.index_dir, embedder=HashEmbedder(), settings=settings, progress=False)
    after = service.snapshot()
    assert after is not before and after.version != before.version
    assert before.retriever.index is before.index and after.retriever.index is after.index
    # The stream started before the swap answers from a whole version (one of the two).
    answer = next(e.answer for e in stream if e.type == "final")
    assert "491万辆" in answer.answer
    assert "more.txt" in [f.file for f in service.documents.list_files()]


def test_unreachable_llm_falls_back_to_extractive_with_a_notice(service: RagService) -> None:
    answer = service.ask("黑石BXPE基金的管理费率是多少？", mode="openai")
    assert answer.mode == "extractive" and "1.25%" in answer.answer
    # The reason is the client's own error class (e.g. APIConnectionError).
    prefix, _, _ = FALLBACK_NOTICE.partition("{reason}")
    assert answer.notice.startswith(prefix) and "ConnectionError" in answer.notice


def test_a_bug_around_the_llm_call_is_not_turned_into_a_fallback(service: RagService, monkeypatch) -> None:
    def broken(*args, **kwargs):
        raise TypeError("a bug in context building")

    monkeypatch.setattr(rag.service, "context_for_llm", broken)
    with pytest.raises(TypeError):
        service.ask("黑石BXPE基金的管理费率是多少？", mode="openai")


def test_unrelated_question_is_refused(settings: Settings) -> None:
    strict = settings.model_copy(update={"min_dense_score": 0.99, "min_bm25_score": 99.0})
    embedder = HashEmbedder()
    ingest([settings.corpus_dir], settings.index_dir, embedder=embedder, settings=settings, progress=False)
    answer = RagService(strict, embedder=embedder).warm_up().ask("量子计算机的纠错码如何设计？")
    assert answer.refused and answer.answer == REFUSAL and answer.citations == []


class _ScriptedGenerator:
    """Writes one fixed answer, as a model behind an endpoint would stream it."""

    def __init__(self, text: str) -> None:
        self.text = text

    def stream_answer(self, question, excerpts):
        from langchain_core.messages import AIMessageChunk

        from rag.answer.llm import AnswerStream

        return AnswerStream(iter([AIMessageChunk(content=self.text)]))


def test_an_llm_answer_that_only_restates_the_question_gives_way_to_quotes(service: RagService, monkeypatch) -> None:
    question = "黑石BXPE基金的管理费率是多少？"
    monkeypatch.setattr(service, "_generator", lambda mode: _ScriptedGenerator("黑石BXPE基金的管理费率[1]。"))
    answer = service.ask(question, mode="openai")
    assert not answer.refused and answer.mode == "extractive" and answer.notice == RESTATED_NOTICE
    assert "1.25%" in answer.answer and answer.citations[0].file == "fund.txt"


def test_an_llm_answer_that_adds_the_fact_is_kept(service: RagService, monkeypatch) -> None:
    monkeypatch.setattr(service, "_generator", lambda mode: _ScriptedGenerator("黑石BXPE基金的管理费率为1.25%[1]。"))
    answer = service.ask("黑石BXPE基金的管理费率是多少？", mode="openai")
    assert answer.mode == "openai" and answer.notice is None and answer.answer.startswith("黑石BXPE基金的管理费率为1.25%")
