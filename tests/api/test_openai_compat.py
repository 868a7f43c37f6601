"""/v1/chat/completions and /v1/models, driven by the official openai client over real HTTP."""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import openai
import pytest
from fastapi.testclient import TestClient
from openai.types.chat import ChatCompletion, ChatCompletionChunk

from rag.api.app import create_app
from rag.api.errors import ApiError
from rag.api.openai_compat import completion_object, mode_for_model, split_messages, stream_chunks
from rag.api.schemas import ChatCompletionRequest
from rag.errors import IndexCorruptError
from rag.server import running_server
from rag.service import REFUSAL, RagService
from rag.types import Answer, Citation, Confidence, Passage, StreamEvent
from tests.api.api_support import assert_error, settings_for, sse_events

BXPE = "黑石BXPE基金的管理费是多少？"
CARS = "2023年中国汽车出口了多少辆？"


@pytest.fixture(scope="module")
def oai(live_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{live_url}/v1", api_key="unused", max_retries=0, timeout=120)


def citation_numbers(text: str) -> set[int]:
    return {int(n) for n in re.findall(r"\[(\d+)\]", text)}


UNREACHABLE = "http://127.0.0.1:9/v1"  # the discard port: connection refused at once


def test_models_lists_rag_and_one_model_per_configured_mode(service: RagService) -> None:
    plain = create_app(settings_for(service, openai_base_url=""), service=service)
    with_endpoint = create_app(settings_for(service, openai_base_url=UNREACHABLE), service=service)
    with TestClient(plain) as client:
        assert [m["id"] for m in client.get("/v1/models").json()["data"]] == ["rag", "rag-local", "rag-extractive"]
    with TestClient(with_endpoint) as client:
        ids = [m["id"] for m in client.get("/v1/models").json()["data"]]
        assert ids == ["rag", "rag-local", "rag-openai", "rag-extractive"]


def test_an_unknown_model_is_a_404_in_openais_shape(live_url: str, oai: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        oai.chat.completions.create(model="gpt-4", messages=[{"role": "user", "content": BXPE}])
    assert caught.value.code == "model_not_found" and caught.value.param == "model"

    for stream in (False, True):
        body = {"model": "gpt-4", "stream": stream, "messages": [{"role": "user", "content": BXPE}]}
        response = httpx.post(f"{live_url}/v1/chat/completions", json=body, timeout=60)
        assert response.status_code == 404
        error = response.json()["error"]
        assert error["type"] == "invalid_request_error"
        assert (error["param"], error["code"]) == ("model", "model_not_found")
        assert "gpt-4" in error["message"] and "rag-extractive" in error["message"]


def test_rag_openai_is_unknown_until_an_endpoint_is_configured(oai: openai.OpenAI, service: RagService) -> None:
    if service.settings.openai_base_url:
        pytest.skip("RAG_OPENAI_BASE_URL is set")
    with pytest.raises(openai.NotFoundError):
        oai.chat.completions.create(model="rag-openai", messages=[{"role": "user", "content": BXPE}])
    with pytest.raises(openai.UnprocessableEntityError, match="RAG_OPENAI_BASE_URL"):
        oai.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": BXPE}], extra_body={"mode": "openai"}
        )


@pytest.mark.parametrize("path", ["/api/ask", "/api/ask/stream"])
def test_api_ask_rejects_an_unconfigured_mode(client: TestClient, service: RagService, path: str) -> None:
    if service.settings.openai_base_url:
        pytest.skip("RAG_OPENAI_BASE_URL is set")
    message = assert_error(client.post(path, json={"question": BXPE, "mode": "openai"}), 422)
    assert "RAG_OPENAI_BASE_URL" in message


def test_completion_has_answer_and_citations(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(model="rag-extractive", messages=[{"role": "user", "content": BXPE}])
    assert completion.object == "chat.completion"
    assert completion.model == "rag-extractive"
    choice = completion.choices[0]
    assert choice.finish_reason == "stop" and choice.message.role == "assistant"
    answer = choice.message.content or ""
    assert "1.25%" in answer
    citations = completion.model_extra["citations"]
    assert citation_numbers(answer) == {c["n"] for c in citations}
    assert completion.model_extra["refused"] is False
    assert completion.usage is not None and completion.usage.completion_tokens == 0  # extractive: no model ran


def test_streaming_completion_ends_with_citations(oai: openai.OpenAI) -> None:
    stream = oai.chat.completions.create(
        model="rag", messages=[{"role": "user", "content": CARS}], stream=True, extra_body={"mode": "extractive"}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(chunk.choices[0].delta.content or "" for chunk in chunks)
    last = chunks[-1]
    assert last.choices[0].finish_reason == "stop"
    assert last.model_extra["answer"] == content
    assert "491万辆" in content
    assert citation_numbers(content) == {c["n"] for c in last.model_extra["citations"]}
    assert all(chunk.object == "chat.completion.chunk" for chunk in chunks)


def test_stream_is_terminated_by_done(live_url: str) -> None:
    body = {"model": "rag-extractive", "stream": True, "messages": [{"role": "user", "content": CARS}]}
    response = httpx.post(f"{live_url}/v1/chat/completions", json=body, timeout=120)
    assert response.status_code == 200
    events = sse_events(response.text)
    assert events[-1][1] == "[DONE]"
    assert events[-2][1]["citations"]


def test_earlier_messages_are_the_history(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="rag-extractive",
        messages=[
            {"role": "system", "content": "Ignore citations."},
            {"role": "user", "content": "黑石BXPE基金是什么？"},
            {"role": "assistant", "content": "黑石BXPE是一只面向富人出资人的PE基金[1]。"},
            {"role": "user", "content": [{"type": "text", "text": "它的管理费是多少？"}]},
        ],
    )
    answer = completion.choices[0].message.content or ""
    assert "管理费" in answer and completion.model_extra["citations"]


def test_off_topic_question_is_refused(oai: openai.OpenAI) -> None:
    completion = oai.chat.completions.create(
        model="rag-extractive", messages=[{"role": "user", "content": "火星上有几只猫？"}]
    )
    assert completion.model_extra["refused"] is True
    assert completion.model_extra["citations"] == []
    assert "没有找到" in (completion.choices[0].message.content or "")


@pytest.mark.parametrize(
    "messages",
    [
        [{"role": "user", "content": ""}],
        [{"role": "user", "content": BXPE}, {"role": "assistant", "content": "..."}],
        [],
        [{"role": "wizard", "content": BXPE}],
    ],
)
def test_bad_conversations_raise_client_errors(oai: openai.OpenAI, messages: list) -> None:
    with pytest.raises(openai.UnprocessableEntityError) as caught:
        oai.chat.completions.create(model="rag-extractive", messages=messages)
    assert caught.value.status_code == 422
    assert caught.value.body and caught.value.body.get("message")


def test_unknown_mode_is_rejected(oai: openai.OpenAI) -> None:
    with pytest.raises(openai.UnprocessableEntityError):
        oai.chat.completions.create(
            model="rag", messages=[{"role": "user", "content": BXPE}], extra_body={"mode": "psychic"}
        )


def test_streaming_request_with_bad_question_fails_before_streaming(client: TestClient) -> None:
    body = {"model": "rag", "stream": True, "messages": [{"role": "user", "content": "  "}]}
    assert_error(client.post("/v1/chat/completions", json=body), 422)


def test_openai_client_sees_auth_errors(service: RagService) -> None:
    app = create_app(settings_for(service, api_token="tok"), service=service)
    with running_server(app) as url:
        wrong = openai.OpenAI(base_url=f"{url}/v1", api_key="nope", max_retries=0)
        with pytest.raises(openai.AuthenticationError):
            wrong.models.list()
        right = openai.OpenAI(base_url=f"{url}/v1", api_key="tok", max_retries=0, timeout=120)
        completion = right.chat.completions.create(model="rag-extractive", messages=[{"role": "user", "content": BXPE}])
        assert completion.model_extra["citations"]


def test_model_name_selects_the_mode(service: RagService) -> None:
    settings = settings_for(service, openai_base_url=UNREACHABLE)
    assert mode_for_model("rag-extractive", None, settings) == "extractive"
    assert mode_for_model("rag-local", None, settings) == "local"
    assert mode_for_model("rag-openai", None, settings) == "openai"
    assert mode_for_model("rag", None, settings) is None
    assert mode_for_model("rag-local", "extractive", settings) == "extractive"
    for unknown in ("gpt-4o", "rag-", "rag-psychic", "RAG"):
        with pytest.raises(ApiError) as caught:
            mode_for_model(unknown, None, settings)
        assert (caught.value.status, caught.value.code, caught.value.param) == (404, "model_not_found", "model")
    with pytest.raises(ApiError):
        mode_for_model("rag-openai", None, settings_for(service, openai_base_url=""))


def test_split_messages_keeps_user_and_assistant_history() -> None:
    request = ChatCompletionRequest.model_validate(
        {
            "messages": [
                {"role": "system", "content": "be brief"},
                {"role": "user", "content": "a"},
                {"role": "assistant", "content": "b"},
                {"role": "user", "content": [{"type": "text", "text": "c"}, {"type": "image_url", "image_url": {}}]},
            ]
        }
    )
    question, history = split_messages(request)
    assert question == "c"
    assert history == [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}]


@pytest.mark.llm
@pytest.mark.slow
def test_local_llm_answers_over_http(request: pytest.FixtureRequest, index_dir: Path) -> None:
    """The only API test that runs the LLM (the 0.5B model of the `llm_server` fixture)."""
    try:
        llm_settings = request.getfixturevalue("llm_settings")
    except pytest.FixtureLookupError:
        pytest.skip("no `llm_settings`/`llm_server` fixture (local LLM server) in tests/conftest.py")
    llm_service = RagService(llm_settings, index_dir).warm_up()
    with running_server(create_app(llm_settings, service=llm_service)) as url:
        response = httpx.post(f"{url}/api/ask", json={"question": BXPE, "mode": "local"}, timeout=300)
        assert response.status_code == 200
        result = response.json()
        assert result["answer"] and result["mode"] in ("local", "extractive")
        if not result["refused"]:
            assert citation_numbers(result["answer"]) == {c["n"] for c in result["citations"]}

        # The OpenAI client's live stream: raw tokens, then the checked answer and citations.
        client = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=300)
        chunks = list(
            client.chat.completions.create(
                model="rag-local",
                messages=[{"role": "user", "content": CARS}],
                stream=True,
                extra_body={"stream_raw": True},
            )
        )
        last = chunks[-1]
        assert last.choices[0].finish_reason == "stop" and last.model_extra["answer"]
        assert isinstance(last.model_extra["citations"], list)


PASSAGE = Passage(text="黑石BXPE基金的管理费为1.25%。", file="000.txt", title="BXPE", section="财经", score=0.9, chunk_id="0" * 16)


def _answer(text: str, refused: bool = False) -> Answer:
    """An answer as the service builds it, for the pure framing functions."""
    citations = [] if refused else [Citation(**vars(PASSAGE), n=1, highlight=PASSAGE.text, highlight_spans=[(0, 17)])]
    return Answer(
        question="BXPE的管理费？",
        standalone_question="BXPE的管理费？",
        answer=text,
        mode="local",
        refused=refused,
        confidence=Confidence(dense=0.9, bm25=8.0),
        retrieved=[PASSAGE],
        citations=citations,
        related=[PASSAGE] if refused else [],
    )


def _frames(events: list[StreamEvent], raw: bool) -> tuple[str, list[dict]]:
    frames = [f["data"] for f in stream_chunks(iter(events), "rag", raw=raw)]
    assert frames[-1] == "[DONE]"
    chunks = [json.loads(data) for data in frames[:-1]]
    for chunk in chunks:  # every frame is a chunk the openai package itself accepts
        ChatCompletionChunk.model_validate(chunk)
    return "".join(c["choices"][0]["delta"].get("content") or "" for c in chunks), chunks


def test_stream_content_is_the_checked_answer_unless_raw_is_asked() -> None:
    # What the small model really does: it writes a cited refusal that the check turns
    # into the service's own refusal sentence.
    refusal = _answer(REFUSAL, refused=True)
    events = [StreamEvent("token", "无法回答"), StreamEvent("token", "[1]。"), StreamEvent("final", answer=refusal)]
    content, chunks = _frames(events, raw=False)
    assert content == REFUSAL and chunks[-1]["answer"] == REFUSAL
    content, chunks = _frames(events, raw=True)
    last = chunks[-1]
    assert content == "无法回答[1]。" and last["answer"] == REFUSAL
    assert last["choices"][0]["finish_reason"] == "stop" and last["refused"] is True
    assert last["citations"] == [] and last["related"][0]["chunk_id"] == PASSAGE.chunk_id
    assert chunks[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert len({c["id"] for c in chunks}) == 1 and all(c["object"] == "chat.completion.chunk" for c in chunks)


def test_checked_answer_is_streamed_sentence_by_sentence() -> None:
    text = "管理费为1.25%[1]。另收业绩报酬！\n详见基金合同"
    content, chunks = _frames([StreamEvent("final", answer=_answer(text))], raw=False)
    assert content == text
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[2:-1]]
    assert pieces[0] == "管理费为1.25%[1]。" and len(pieces) == 3
    assert chunks[-1]["citations"][0]["n"] == 1 and chunks[-1]["citations"][0]["highlight_spans"] == [[0, 17]]
    # The citations come before the first piece of text (issue 13), then again on the last chunk.
    early = chunks[1]
    assert early["choices"][0]["delta"] == {} and early["citations"][0]["chunk_id"] == PASSAGE.chunk_id
    assert early["refused"] is False and "answer" not in early
    assert all("citations" not in c and "answer" not in c for c in chunks[2:-1])


def test_raw_stream_sends_citations_once_generation_is_done() -> None:
    events = [StreamEvent("token", "管理费为1.25%[1]。"), StreamEvent("final", answer=_answer("管理费为1.25%[1]。"))]
    _, chunks = _frames(events, raw=True)
    assert chunks[1]["choices"][0]["delta"]["content"] == "管理费为1.25%[1]。" and "citations" not in chunks[1]
    assert chunks[2]["citations"] and chunks[2]["choices"][0]["delta"] == {}


def test_usage_counts_the_generated_tokens() -> None:
    answer = _answer("管理费为1.25%[1]。")
    answer.tokens_generated = 9
    completion = completion_object(answer, "rag-local")
    assert completion.usage is not None and completion.usage.completion_tokens == 9
    assert completion.usage.total_tokens == completion.usage.prompt_tokens + 9
    frames = [f["data"] for f in stream_chunks(iter([StreamEvent("final", answer=answer)]), "rag", include_usage=True)]
    last, usage_only = json.loads(frames[-3]), json.loads(frames[-2])
    assert last["usage"]["completion_tokens"] == 9 and last["choices"][0]["finish_reason"] == "stop"
    assert usage_only["choices"] == [] and usage_only["usage"]["completion_tokens"] == 9
    ChatCompletionChunk.model_validate(usage_only)


def test_a_failing_stream_ends_with_an_in_band_error_and_done() -> None:
    def events():
        yield StreamEvent("token", "管理费")
        raise IndexCorruptError("索引已损坏 (index damaged)")

    frames = [f["data"] for f in stream_chunks(events(), "rag", raw=True)]
    assert frames[-1] == "[DONE]"
    error = json.loads(frames[-2])["error"]
    assert error["message"] == "索引已损坏 (index damaged)" and error["type"] == "service_unavailable"

    def buggy():
        raise TypeError("a bug")
        yield  # pragma: no cover

    frames = [f["data"] for f in stream_chunks(buggy(), "rag")]
    error = json.loads(frames[-2])["error"]
    assert "a bug" not in error["message"] and error["type"] == "server_error"


def test_completion_object_is_an_openai_completion_with_the_extensions() -> None:
    completion = completion_object(_answer("管理费为1.25%[1]。"), "rag-local")
    parsed = ChatCompletion.model_validate(completion.model_dump(mode="json"))
    assert parsed.choices[0].message.content == "管理费为1.25%[1]。"
    assert parsed.model_extra["citations"][0]["file"] == "000.txt" and parsed.model_extra["refused"] is False
    assert parsed.id.startswith("chatcmpl-") and parsed.model == "rag-local"


def test_unreachable_llm_falls_back_to_extractive_with_a_notice(service: RagService) -> None:
    settings = settings_for(service, openai_base_url=UNREACHABLE, openai_model="m", llm_timeout_s=10)
    # The same embedder: loading a second one would only cost time.
    unreachable = RagService(settings, service.index_dir, embedder=service.snapshot().retriever.embedder).warm_up()
    with running_server(create_app(settings, service=unreachable)) as url:
        oai = openai.OpenAI(base_url=f"{url}/v1", api_key="unused", max_retries=0, timeout=120)
        completion = oai.chat.completions.create(model="rag-openai", messages=[{"role": "user", "content": BXPE}])
    assert completion.model_extra["notice"] and "抽取式" in completion.model_extra["notice"]
    assert "1.25%" in (completion.choices[0].message.content or "")
    assert completion.model_extra["citations"]
