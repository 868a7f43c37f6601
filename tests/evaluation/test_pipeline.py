"""The glue to the answer engine: a fake service for the record's shape, the real one end to end."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING

from rag.answer.ranker import MODEL_FILE
from rag.config import PROJECT_ROOT
from rag.evaluation.dataset import load_dataset
from rag.evaluation.pipeline import RANKED_PASSAGES, answer_predictor, retrieval_benchmark, run_answer_eval, run_config
from rag.fileutil import sha256_file
from rag.index.store import FileRecord, Manifest
from rag.retrieve.base import RetrievalResult
from rag.types import Answer, Chunk, Citation, Confidence, Passage, ScoredChunk, Timings

DEV_SET = PROJECT_ROOT / "eval" / "datasets" / "dev.jsonl"


def _scored(text: str, file: str, score: float) -> ScoredChunk:
    chunk = Chunk(chunk_id=file, file=file, article_index=0, title="", section="", byline="", source="",
                  text=text, start=0, end=len(text))
    return ScoredChunk(chunk, score)


class FakeService:
    """The part of RagService's contract the harness uses, answering from two passages."""

    def __init__(self) -> None:
        self.settings = SimpleNamespace(llm_model_file="model.gguf", openai_model="remote-model", llm_context_chars=270, llm_seed=0, evidence_model=None)
        self.index_manifest = Manifest(
            embedder="fake-e5", dimension=4, chunking={"size": 400}, files={"a.txt": FileRecord("abc", 1, 1)},
            pipeline="p1",
        )
        self.searches: list[tuple[str, int | None, str]] = []
        self.asked: list[tuple[str, list[dict] | None]] = []

    def ask(self, question: str, history: list[dict] | None = None, k: int | None = None,
            mode: str | None = None) -> Answer:
        self.asked.append((question, history))
        cited = Citation(text=PASSAGE_BLACKSTONE, file="a.txt", title="", section="", score=0.9, chunk_id="a.txt",
                         n=1, highlight="", highlight_spans=[])
        return Answer(
            question=question, standalone_question=f"standalone {question}", answer="净流入170亿美元[1]。",
            mode=mode or "extractive", refused=False, confidence=Confidence(0.9, 12.0),
            retrieved=[Passage(PASSAGE_BLACKSTONE, "a.txt", "", "", 0.9, "a.txt")], citations=[cited],
            timings=Timings(retrieve_ms=3.0, total_ms=5.0),
        )

    def search(self, query: str, k: int | None = None, filters: Any = None, method: str = "hybrid") -> RetrievalResult:
        self.searches.append((query, k, method))
        results = [_scored(PASSAGE_MEETING, "b.txt", 0.8), _scored(PASSAGE_BLACKSTONE, "a.txt", 0.7)]
        return RetrievalResult(query=query, results=results, confidence=Confidence(0.9, 12.0))


def test_prediction_is_the_answer_json_plus_ten_ranked_passages() -> None:
    service = FakeService()
    record = answer_predictor(service, "extractive", 5)({"id": "q", "question": "多少？"})  # type: ignore[arg-type]
    answer = service.ask("多少？", mode="extractive")
    expected = answer.to_dict()
    assert set(record) == set(expected)
    assert record["answer"] == expected["answer"] and record["citations"] == expected["citations"]
    assert service.searches == [("standalone 多少？", RANKED_PASSAGES, "hybrid")]
    assert [r["file"] for r in record["retrieved"]] == ["b.txt", "a.txt"]
    assert record["timings"]["retrieve10_ms"] >= 0 and record["timings"]["total_ms"] == 5.0
    json.dumps(record, ensure_ascii=False)  # what the run cache stores


def test_run_config_names_mode_model_and_index(tmp_path: Path) -> None:
    service = FakeService()
    config = run_config(service, "local", 5)  # type: ignore[arg-type]
    evidence_model = config.pop("evidence_model")
    assert config == {"mode": "local", "k": 5, "llm": "model.gguf", "embedder": "fake-e5",
                      "index_files": {"a.txt": "abc"}, "pipeline": "p1", "context_chars": 270, "llm_seed": 0}
    # Another evidence model (RAG_EVIDENCE_MODEL) is another run: cached answers are not reused.
    assert evidence_model == sha256_file(MODEL_FILE)[:16]
    service.settings.evidence_model = tmp_path / "mine.json"
    service.settings.evidence_model.write_text("{}", encoding="utf-8")
    assert run_config(service, "local", 5)["evidence_model"] != evidence_model  # type: ignore[arg-type]
    assert run_config(service, "openai", 5)["llm"] == "remote-model"  # type: ignore[arg-type]
    # The context size is part of an LLM run (its cache, the frontier); extractive reads no context.
    assert "context_chars" not in run_config(service, "extractive", 5)  # type: ignore[arg-type]
    service.settings.llm_seed = None  # another seed samples other answers: another run
    assert run_config(service, "local", 5)["llm_seed"] is None  # type: ignore[arg-type]


def test_retrieval_benchmark_scores_each_method(tmp_path: Path) -> None:
    dataset = tmp_path / "d.jsonl"
    rows = [{"id": "1", "question": "多少？", "type": "numeric", "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
            {"id": "2", "question": "火星？", "type": "unanswerable"}]
    dataset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    service = FakeService()
    table = retrieval_benchmark(service, dataset)  # type: ignore[arg-type]
    assert list(table) == ["bm25", "dense", "hybrid"]
    assert [m for _, _, m in service.searches] == ["bm25", "dense", "hybrid"]  # the answerable question only
    assert table["hybrid"]["recall@1"] == 0.0 and table["hybrid"]["recall@3"] == 1.0
    assert table["hybrid"]["mrr@10"] == 0.5 and table["hybrid"]["questions"] == 1


def test_answer_eval_of_one_split_passes_follow_up_history(tmp_path: Path) -> None:
    history = [{"role": "user", "content": "黑石二季度LP净流入多少？"}, {"role": "assistant", "content": "170亿美元。"}]
    rows = [
        {"id": "1", "question": "同比呢？", "type": "numeric", "split": "test", "history": history,
         "must_include": ["170亿美元"], "evidence": [{"quote": "资金净流入额为 170 亿美元"}]},
        {"id": "2", "question": "会议在哪？", "type": "factoid", "split": "tune", "must_include": ["北京"]},
    ]
    dataset = tmp_path / "d.jsonl"
    dataset.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows), encoding="utf-8")
    service = FakeService()
    metrics = run_answer_eval(service, [dataset], "extractive", 5, tmp_path / "run", split="test")  # type: ignore[arg-type]
    assert service.asked == [("同比呢？", history)]
    assert metrics["run"]["config"]["split"] == "test" and metrics["n_questions"] == 1
    assert metrics["overall"]["evidence_citation_precision"] == 1.0


@pytest.mark.slow
def test_real_service_end_to_end(service: Any, tmp_path: Path) -> None:
    """Three dev-set questions through the real engine (extractive): the record keeps the API shape."""
    metrics = run_answer_eval(service, DEV_SET, "extractive", 5, tmp_path, limit=3)
    assert metrics["n_questions"] == 3 and metrics["n_errors"] == 0
    records = [json.loads(x) for x in (tmp_path / "predictions.jsonl").read_text(encoding="utf-8").splitlines()]
    first = records[0]["prediction"]
    assert {"question", "standalone_question", "answer", "refused", "citations", "timings", "retrieved"} <= set(first)
    assert len(first["retrieved"]) == RANKED_PASSAGES
    assert [r["id"] for r in records] == [row["id"] for row in load_dataset(DEV_SET)[:3]]
    assert metrics["overall"]["recall@10"] is not None
