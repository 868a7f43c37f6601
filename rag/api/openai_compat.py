"""OpenAI-compatible endpoints, so any OpenAI client or chat front-end can use the knowledge base.

Mapping:

* the last message must come from the user: it is the question; earlier user and
  assistant messages are the history; system/developer messages are ignored (the
  answer prompt is fixed, so a client's own system prompt cannot turn off citations);
* ``model`` picks the answer mode: ``rag`` (server default), ``rag-local``,
  ``rag-extractive``, and ``rag-openai`` only when ``RAG_OPENAI_BASE_URL`` is set
  (``/v1/models`` lists exactly these, from ``rag.config.available_modes``). Any other
  name (``gpt-4``...) is a 404 ``model_not_found`` in OpenAI's error shape, as OpenAI
  answers it: a client pointed at the wrong server or model learns so at once instead of
  getting answers from a mode it did not ask for. The extension fields ``mode`` and
  ``k`` in the body override the mode (``extra_body`` in the openai package);
* sampling options (temperature, max_tokens...) are accepted and ignored;
* the answer's citations go in an extra top-level ``citations`` field (also on the
  last stream chunk, together with ``answer``, ``refused`` and ``notice``).

Streaming: the model's raw tokens are not the answer. After generation every marker
is checked against its passage, wrong ones are dropped and the rest renumbered, and
an unsupported answer becomes a refusal ("无法回答[1]" -> "知识库中没有找到…"). Clients
such as chat front-ends render only ``content``, so by default the stream carries the
*checked* answer (sent sentence by sentence once it is known; SSE comments keep the
connection alive meanwhile) and its markers always match ``citations``. The extension
``"stream_raw": true`` streams the model's tokens live instead, for the lowest time to
first token; then only the final chunk's ``answer`` is the checked text.

Frames of a stream (``data:`` lines, JSON ``chat.completion.chunk`` objects, then ``[DONE]``)::

    {"choices": [{"delta": {"role": "assistant", "content": ""}}], ...}        first
    {"choices": [{"delta": {}}], "citations": [...], "refused": false, ...}    citations, as soon as known
    {"choices": [{"delta": {"content": "管理费为1.25%[1]。"}}], ...}             the answer, sentence by sentence
    {"choices": [{"delta": {}, "finish_reason": "stop"}], "answer": "...",
     "citations": [...], "refused": ..., "notice": ..., "related": [...],
     "usage": {"prompt_tokens": 0, "completion_tokens": 12, "total_tokens": 12}}  last
    [DONE]

By default (checked stream) the citations frame comes before the first piece of content,
so a client can show the sources while the text arrives; with ``stream_raw`` it comes once
generation is done, right before the last frame. ``stream_options: {"include_usage": true}``
adds OpenAI's usage-only chunk (``choices: []``) before ``[DONE]``.

``usage``: ``completion_tokens`` are the tokens the LLM wrote (llama.cpp streams one per
chunk), ``prompt_tokens`` those it read when the engine reports them (``Answer.prompt_tokens``),
else 0; both are 0 in extractive mode, where no model runs.

Frames are built with the openai package's own models (``RagChatCompletion`` and
``RagChatCompletionChunk`` in ``rag.api.schemas`` add the extension fields).
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter
from openai.types import CompletionUsage, Model
from starlette.concurrency import run_in_threadpool

from rag.api.deps import AppSettings, ReadyService
from rag.api.errors import ApiError, ErrorResponse, in_band_error
from rag.api.schemas import ChatCompletionRequest, RagChatCompletion, RagChatCompletionChunk
from rag.api.streaming import sse_response, started
from rag.config import Settings, available_modes, check_mode
from rag.errors import QuestionError
from rag.text.sentences import sentence_pieces
from rag.types import Answer, StreamEvent

log = logging.getLogger(__name__)

MODEL_PREFIX = "rag"

router = APIRouter(prefix="/v1", tags=["openai"])


def model_ids(settings: Settings) -> list[str]:
    """The model names this server answers to: ``rag`` and one per available mode."""
    return [MODEL_PREFIX] + [f"{MODEL_PREFIX}-{mode}" for mode in available_modes(settings)]


def mode_for_model(model: str, explicit: str | None, settings: Settings) -> str | None:
    """The answer mode for a request: ``explicit`` (the ``mode`` extension) if given, else
    the one the model name implies (None = the server default for ``rag``).

    An unknown model is an ``ApiError`` 404 ``model_not_found``; an unknown or unconfigured
    explicit mode a ``QuestionError`` (422).
    """
    if model not in model_ids(settings):
        raise ApiError(
            404,
            f"模型 {model!r} 不存在，可用：{', '.join(model_ids(settings))} (the model {model!r} does not exist)",
            "invalid_request_error",
            param="model",
            code="model_not_found",
        )
    if explicit:
        check_mode(explicit, settings)
        return explicit
    return model[len(MODEL_PREFIX) + 1 :] or None


def split_messages(body: ChatCompletionRequest) -> tuple[str, list[dict[str, str]]]:
    """(question, history) from an OpenAI message list."""
    last = body.messages[-1]
    if last.role != "user":
        raise QuestionError("最后一条消息必须来自用户 (the last message must have role 'user')")
    history = [
        {"role": m.role, "content": m.text()}
        for m in body.messages[:-1]
        if m.role in ("user", "assistant") and m.text().strip()
    ]
    return last.text(), history


def _extras(answer: Answer) -> dict[str, Any]:
    return {"citations": answer.citations, "refused": answer.refused, "notice": answer.notice, "related": answer.related}


def usage_of(answer: Answer) -> CompletionUsage:
    """Token counts of the answer (see the module docstring)."""
    completion = answer.tokens_generated or 0
    # Not every engine version reports what the model read; 0 then, never a guess.
    prompt = getattr(answer, "prompt_tokens", None) or 0
    return CompletionUsage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=prompt + completion)


def _completion_id() -> str:
    return f"chatcmpl-{uuid.uuid4().hex}"


def completion_object(answer: Answer, model: str) -> RagChatCompletion:
    return RagChatCompletion(
        id=_completion_id(),
        object="chat.completion",
        created=int(time.time()),
        model=model,
        choices=[
            {
                "index": 0,
                "message": {"role": "assistant", "content": answer.answer},
                "finish_reason": "stop",
                "logprobs": None,
            }
        ],
        usage=usage_of(answer),
        **_extras(answer),
    )


def _json(model: RagChatCompletion | RagChatCompletionChunk) -> dict[str, Any]:
    # exclude_unset: only what we set goes on the wire (OpenAI's optional fields stay absent).
    return model.model_dump(mode="json", exclude_unset=True)


def stream_chunks(
    events: Iterator[StreamEvent], model: str, raw: bool = False, include_usage: bool = False
) -> Iterator[dict[str, str]]:
    """OpenAI ``chat.completion.chunk`` SSE frames, ending with ``[DONE]`` (see module docstring)."""
    completion_id, created = _completion_id(), int(time.time())

    def frame(delta: dict[str, Any] | None, finish: str | None = None, **extra: Any) -> dict[str, str]:
        choices = [] if delta is None else [{"index": 0, "delta": delta, "finish_reason": finish, "logprobs": None}]
        chunk = RagChatCompletionChunk(
            id=completion_id,
            object="chat.completion.chunk",
            created=created,
            model=model,
            choices=choices,
            **extra,
        )
        return {"data": chunk.model_dump_json(exclude_unset=True)}

    yield frame({"role": "assistant", "content": ""})
    streamed = False
    try:
        for event in events:
            if event.type == "token" and event.text and raw:
                streamed = True
                yield frame({"content": event.text})
            elif event.type == "final" and event.answer is not None:
                answer = event.answer
                usage = usage_of(answer)
                # The citations the moment they are known: before the text in a checked stream.
                yield frame({}, citations=answer.citations, refused=answer.refused)
                if not streamed:
                    for piece in sentence_pieces(answer.answer):
                        yield frame({"content": piece})
                yield frame({}, "stop", answer=answer.answer, usage=usage, **_extras(answer))
                if include_usage:  # OpenAI's stream_options.include_usage: a usage-only chunk
                    yield frame(None, usage=usage)
    except Exception as exc:  # headers are sent: report in-band, as OpenAI does
        log.exception("chat completion stream failed")
        yield {"data": json.dumps(in_band_error(exc), ensure_ascii=False)}
    yield {"data": "[DONE]"}


@router.post(
    "/chat/completions",
    summary="OpenAI-compatible chat completion (RAG answer with citations)",
    responses={
        200: {"model": RagChatCompletion, "content": {"text/event-stream": {}}},
        404: {"model": ErrorResponse, "description": "The model is not one /v1/models lists (code model_not_found)."},
    },
)
async def chat_completions(body: ChatCompletionRequest, svc: ReadyService, settings: AppSettings) -> Any:
    mode = mode_for_model(body.model, body.mode, settings)
    question, history = split_messages(body)
    if not body.stream:
        answer = await run_in_threadpool(svc.ask, question, history, body.k, mode)
        return _json(completion_object(answer, body.model))
    events = await started(svc.ask_stream(question, history, body.k, mode))
    options = (body.model_extra or {}).get("stream_options")
    include_usage = isinstance(options, dict) and options.get("include_usage") is True
    return sse_response(stream_chunks(events, body.model, raw=body.stream_raw, include_usage=include_usage))


@router.get("/models", summary="OpenAI-compatible model list: rag and one entry per configured answer mode")
def list_models(settings: AppSettings) -> dict[str, Any]:
    created = int(time.time())
    models = [Model(id=name, object="model", created=created, owned_by="rag") for name in model_ids(settings)]
    return {"object": "list", "data": [m.model_dump(mode="json") for m in models]}
