"""The resumable runner: caching, errors, limits, config hashing, judge hook."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from tests.evaluation.eval_samples import PASSAGE_BLACKSTONE, PASSAGE_MEETING, passage

from rag.evaluation.judge import Judge
from rag.evaluation.runner import config_hash, load_cache, record_to_prediction, run_eval

ROWS = [
    {
        "id": "q1",
        "question": "黑石二季度LP净流入多少？",
        "answer": "170亿美元",
        "must_include": ["170亿美元"],
        "evidence": [{"file": "a.txt", "quote": "资金净流入额为 170 亿美元"}],
        "type": "numeric",
    },
    {
        "id": "q2",
        "question": "中央经济工作会议在哪里举行？",
        "answer": "北京",
        "must_include": ["北京"],
        "evidence": [{"file": "b.txt", "quote": "12 月 11 日至 12 日在北京举行"}],
        "type": "factoid",
    },
    {"id": "q3", "question": "火星上有几座城市？", "answer": "", "type": "unanswerable"},
]
ANSWERS = {
    "q1": ("黑石今年二季度LP的资金净流入额为170亿美元[1]。", PASSAGE_BLACKSTONE),
    "q2": ("中央经济工作会议12月11日至12日在北京举行[1]。", PASSAGE_MEETING),
}


def fake_predict(item: dict[str, Any]) -> dict[str, Any]:
    retrieved = [passage(PASSAGE_MEETING, "b.txt"), passage(PASSAGE_BLACKSTONE, "a.txt")]
    if item["id"] not in ANSWERS:
        return {"answer": "资料中没有相关信息。", "refused": True, "citations": [], "retrieved": retrieved,
                "timings": {"retrieve_ms": 5, "generate_ms": 0, "total_ms": 6, "ttft_ms": None}}
    text, cited = ANSWERS[item["id"]]
    return {
        "question": item["question"],
        "answer": text,
        "refused": False,
        "mode": "test",
        "citations": [
            {"n": 1, "file": "x.txt", "title": "", "section": "", "text": cited, "score": 1, "chunk_id": "c"}
        ],
        "timings": {"retrieve_ms": 10, "generate_ms": 500, "total_ms": 520, "ttft_ms": 100},
        "retrieved": retrieved,
        "tokens_generated": 30,
        "fallback": None,
    }


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    path = tmp_path / "dev.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in ROWS) + "\n\n", encoding="utf-8")
    return path


def test_run_writes_everything_and_returns_metrics(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    m = run_eval(dataset, fake_predict, {"mode": "test", "k": 5}, out, progress=False)
    assert m["n_questions"] == 3 and m["n_errors"] == 0
    o = m["overall"]
    assert o["key_fact_accuracy"] == 1.0 and o["refusal_rate"] == 1.0
    assert o["recall@1"] == 0.5 and o["recall@5"] == 1.0 and o["mrr@10"] == 0.75
    assert o["citation_precision"] == 1.0
    assert m["run"]["config"] == {"mode": "test", "k": 5}
    for name in ("metrics.json", "report.md", "report.html", "per_question.jsonl", "predictions.jsonl", "config.json"):
        assert (out / name).exists(), name
    assert (out / "charts" / "metrics.png").exists() and (out / "charts" / "latency.png").exists()
    assert json.loads((out / "metrics.json").read_text(encoding="utf-8"))["overall"] == o
    cache = list((out / "cache").glob("*.jsonl"))
    assert [c.stem for c in cache] == [config_hash({"mode": "test", "k": 5})]


def test_interrupted_run_resumes_where_it_stopped(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    calls: list[str] = []

    def interrupted(item: dict[str, Any]) -> dict[str, Any]:
        if len(calls) == 2:
            raise KeyboardInterrupt
        calls.append(item["id"])
        return fake_predict(item)

    with pytest.raises(KeyboardInterrupt):
        run_eval(dataset, interrupted, {"mode": "test"}, out, progress=False)
    assert calls == ["q1", "q2"]

    second: list[str] = []

    def counting(item: dict[str, Any]) -> dict[str, Any]:
        second.append(item["id"])
        return fake_predict(item)

    m = run_eval(dataset, counting, {"mode": "test"}, out, progress=False)
    assert second == ["q3"]
    assert m["n_errors"] == 0 and m["overall"]["key_fact_accuracy"] == 1.0


def test_errors_recorded_not_fatal_and_retried(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"

    def flaky(item: dict[str, Any]) -> dict[str, Any]:
        if item["id"] == "q2":
            raise RuntimeError("LLM server down")
        return fake_predict(item)

    m = run_eval(dataset, flaky, {"mode": "test"}, out, progress=False)
    assert m["n_errors"] == 1
    rows = [json.loads(x) for x in (out / "per_question.jsonl").read_text(encoding="utf-8").splitlines()]
    failed = next(r for r in rows if r["id"] == "q2")
    assert failed["passed"] is False and "LLM server down" in failed["error"]

    retried: list[str] = []

    def fixed(item: dict[str, Any]) -> dict[str, Any]:
        retried.append(item["id"])
        return fake_predict(item)

    m = run_eval(dataset, fixed, {"mode": "test"}, out, progress=False)
    assert retried == ["q2"] and m["n_errors"] == 0


def test_non_dict_prediction_is_an_error(dataset: Path, tmp_path: Path) -> None:
    def not_a_dict(item: dict[str, Any]) -> Any:
        return "text"

    m = run_eval(dataset, not_a_dict, {"mode": "x"}, tmp_path / "r", progress=False)
    assert m["n_errors"] == 3


def test_limit_and_config_hash(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    m = run_eval(dataset, fake_predict, {"mode": "a", "k": 3}, out, limit=2, progress=False)
    assert m["n_questions"] == 2
    run_eval(dataset, fake_predict, {"mode": "b", "k": 3}, out, limit=1, progress=False)
    assert len(list((out / "cache").glob("*.jsonl"))) == 2
    assert config_hash({"k": 3, "mode": "a"}) == config_hash({"mode": "a", "k": 3})
    assert config_hash({"mode": "a"}) != config_hash({"mode": "b"})


def test_torn_cache_line_is_skipped(tmp_path: Path) -> None:
    p = tmp_path / "c.jsonl"
    p.write_text('{"id": "a", "prediction": {}}\n{"id": "b", "predic', encoding="utf-8")
    assert list(load_cache(p)) == ["a"]


def test_judge_scores_answers_and_is_cached(dataset: Path, tmp_path: Path) -> None:
    calls: list[str] = []

    def create(**kwargs: Any) -> Any:
        calls.append(kwargs["model"])
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content='{"score": 1}'))])

    judge = Judge(SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create))), "judge-model")
    out = tmp_path / "run"
    m = run_eval(dataset, fake_predict, {"mode": "test"}, out, judge=judge, progress=False)
    assert m["overall"]["judge_correctness"] == 1.0
    assert calls == ["judge-model", "judge-model"]  # the two answerable questions
    run_eval(dataset, fake_predict, {"mode": "test"}, out, judge=judge, progress=False)
    assert len(calls) == 2  # cached with the prediction


def test_judge_required_but_unconfigured(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("RAG_JUDGE_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env here
    with pytest.raises(ValueError, match="judge"):
        run_eval(dataset, fake_predict, {"mode": "test"}, tmp_path / "r", judge=True, progress=False)


def test_unconfigured_judge_is_skipped(dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RAG_JUDGE_BASE_URL", raising=False)
    monkeypatch.delenv("RAG_JUDGE_MODEL", raising=False)
    monkeypatch.chdir(tmp_path)
    m = run_eval(dataset, fake_predict, {"mode": "test"}, tmp_path / "r", progress=False)
    assert m["overall"]["judge_correctness"] is None  # not configured: skipped, not zero


def test_record_to_prediction_fills_total_from_wall_clock() -> None:
    assert record_to_prediction(None) is None
    assert record_to_prediction({"id": "a", "error": "boom"}) == {"error": "boom"}
    pred = record_to_prediction({"id": "a", "prediction": {"answer": "x", "timings": {}}, "wall_ms": 12.5})
    assert pred == {"answer": "x", "timings": {"total_ms": 12.5}}


def test_a_split_of_several_files_is_run_and_recorded(tmp_path: Path) -> None:
    tune, test = tmp_path / "tune.jsonl", tmp_path / "test.jsonl"
    tune.write_text(json.dumps({**ROWS[0], "split": "tune"}, ensure_ascii=False) + "\n", encoding="utf-8")
    test.write_text(
        "\n".join(json.dumps(r, ensure_ascii=False) for r in ({**ROWS[1], "split": "test"}, ROWS[2])), encoding="utf-8"
    )
    asked: list[str] = []

    def predict(item: dict[str, Any]) -> dict[str, Any]:
        asked.append(item["id"])
        return fake_predict(item)

    out = tmp_path / "run"
    m = run_eval([tune, test], predict, {"mode": "test", "k": 5}, out, split="test", progress=False)
    assert asked == ["q2"]  # q3 has no split: in neither side
    assert m["n_questions"] == 1 and set(m["per_split"]) == {"test"}
    assert m["run"]["split"] == "test" and m["run"]["datasets"] == [str(tune), str(test)]
    assert json.loads((out / "config.json").read_text(encoding="utf-8")) == {"mode": "test", "k": 5, "split": "test"}
    # The split is recorded, not hashed: the tune run in the same folder reuses the cache file.
    m = run_eval([tune, test], predict, {"mode": "test", "k": 5}, out, split="tune", progress=False)
    assert asked == ["q2", "q1"] and m["per_split"]["tune"]["key_fact_accuracy"] == 1.0
    assert [p.name for p in (out / "cache").iterdir()] == [f"{config_hash({'mode': 'test', 'k': 5})}.jsonl"]
    m = run_eval([tune, test], predict, {"mode": "test", "k": 5}, out, progress=False)
    assert asked == ["q2", "q1", "q3"] and set(m["per_split"]) == {"tune", "test"}


def test_judge_may_accept_a_cited_passage_without_the_evidence(dataset: Path, tmp_path: Path) -> None:
    def predict(item: dict[str, Any]) -> dict[str, Any]:
        pred = fake_predict(item)
        for c in pred["citations"]:
            c["text"] = PASSAGE_MEETING if item["id"] == "q1" else c["text"]  # q1 cites a passage without its quote
        return pred

    prompts: list[str] = []

    def create(**kw: Any) -> Any:
        prompts.append(kw["messages"][0]["content"])
        reply = '{"supported": false}' if "引用段落" in prompts[-1] else '{"score": 1}'
        return SimpleNamespace(choices=[SimpleNamespace(message=SimpleNamespace(content=reply))])

    judge = Judge(SimpleNamespace(chat=SimpleNamespace(completions=SimpleNamespace(create=create))), "j")
    out = tmp_path / "run"
    m = run_eval(dataset, predict, {"mode": "test"}, out, judge=judge, progress=False)
    cited = [p for p in prompts if "引用段落" in p]
    assert len(cited) == 1 and "170亿美元[1]" in cited[0] and "中央经济工作会议" in cited[0]
    assert m["overall"]["evidence_citation_precision"] == 0.5  # q2's passage holds its quote, q1's does not
    assert m["overall"]["citation_precision"] == 0.5  # the checker rule agrees here, by its own reasoning
    run_eval(dataset, predict, {"mode": "test"}, out, judge=judge, progress=False)
    assert len(prompts) == 3  # verdicts are cached with the prediction
