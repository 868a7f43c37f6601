"""Request and response models of the HTTP API.

Requests are strict pydantic models: they document the API (OpenAPI at /docs) and
reject malformed input before it reaches the service. Limits that live in settings
(question length, known modes) are checked by the service itself, which raises
``QuestionError``; the app maps both kinds of failure to the same 422 error shape,
so clients see one convention.

Responses are the engine's own dataclasses (``rag.types``): FastAPI validates what a
route returns against them and documents them, so the API cannot drift from what the
engine produces. ``FIELD_DOCS`` adds the field descriptions the dataclasses leave to
comments (``describe_fields`` writes them into the OpenAPI document).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from openai.types.chat import ChatCompletion, ChatCompletionChunk
from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator

from rag.types import Answer, Citation, Passage

# k beyond this is never useful (the answer prompt holds a handful of passages) and
# a large k makes retrieval and the prompt needlessly slow.
MAX_K = 50


def valid_unicode(value: object) -> object:
    """Reject text that is not valid Unicode: a lone UTF-16 surrogate (``"\\udfff"``) parses
    as JSON but cannot be encoded, and would fail deep inside the tokenizer as a 500.
    Anything but a ``str`` passes through, for the type check that follows."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            raise ValueError("文本含有无效的 Unicode 字符（孤立的代理项）(text is not valid Unicode: lone surrogate)") from None
    return value


# Every string a client sends that reaches the engine or is echoed back. Checked before
# the type and length checks, so every such error reads the same.
Text = Annotated[str, BeforeValidator(valid_unicode)]


class _Strict(BaseModel):
    # Unknown fields are rejected so a typo ("questoin") fails loudly instead of
    # being ignored; strict types stop "k": "5" or "question": 123 from coercing.
    model_config = ConfigDict(extra="forbid", strict=True)


class HistoryMessage(_Strict):
    role: Literal["user", "assistant"]
    content: Text = Field(max_length=20_000)


class AskRequest(_Strict):
    question: Text = Field(description="The question, in Chinese or English.", examples=["黑石BXPE基金的管理费是多少？"])
    history: list[HistoryMessage] | None = Field(
        default=None, max_length=50, description="Earlier turns of the conversation, oldest first."
    )
    k: int | None = Field(default=None, ge=1, le=MAX_K, description="Passages to retrieve (default: settings.top_k).")
    mode: Text | None = Field(
        default=None,
        description="Answer mode: local (bundled LLM), openai (configured endpoint, offered only when "
        "RAG_OPENAI_BASE_URL is set) or extractive (no LLM).",
        examples=["extractive"],
    )

    def history_dicts(self) -> list[dict[str, str]] | None:
        return [m.model_dump() for m in self.history] if self.history is not None else None


class SearchRequest(_Strict):
    query: Text = Field(min_length=1, max_length=2_000, examples=["2023年中国汽车出口"])
    k: int | None = Field(default=None, ge=1, le=MAX_K)


# The answer of /api/ask and of the stream's final event.
AskResponse = Answer


class SearchResponse(BaseModel):
    """``RetrievalResult.to_public()``: the query and its ranked passages."""

    query: str
    results: list[Passage]


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "loading", "error"]
    index_version: str | None = None


# Descriptions of the engine dataclasses' fields, by OpenAPI schema name.
FIELD_DOCS: dict[str, dict[str, str]] = {
    "Answer": {
        "question": "The question as asked.",
        "standalone_question": "The question rewritten to stand alone (follow-ups resolved with the history).",
        "answer": "The checked answer with [n] markers (citations[].n), or the refusal sentence.",
        "mode": "The mode that produced the answer: local, openai or extractive (after a fallback).",
        "refused": "True when the knowledge base does not hold the answer; `answer` then says so.",
        "confidence": "How sure retrieval is that the index holds something relevant.",
        "retrieved": "The passages the answer was written from, best first.",
        "citations": "The passages the answer's [n] markers point to.",
        "related": "When refusing: passages that may still interest the user.",
        "notice": "A note for the user, e.g. that the LLM was unreachable and the answer is extractive.",
        "unsupported": "Sentences of the model's answer that no passage supports (dropped).",
        "unverified_terms": "Question terms the answer asserts that no cited passage contains.",
        "near_misses": "Figures that answer a neighbouring question (another year, measure or period).",
        "tokens_generated": "Tokens the LLM wrote; null in extractive mode.",
        "no_answer_logprob": "The model's log-probability of opening with 无法回答 (its doubt).",
        "timings": "Milliseconds per step.",
    },
    "Passage": {
        "text": "The passage text.",
        "file": "The source file, relative to the corpus.",
        "title": "The article title.",
        "section": "The newspaper section or heading.",
        "score": "Retrieval score (higher is better).",
        "chunk_id": "Stable id of the passage in the index.",
    },
    "Citation": {
        "n": "The marker number: [n] in the answer.",
        "highlight": "The supporting sentence(s) inside `text`; a list when they are not adjacent.",
        "highlight_spans": "(start, end) character offsets into `text` of the supporting sentences.",
    },
    "Confidence": {
        "dense": "Best cosine similarity between the question and a passage.",
        "bm25": "Best BM25 score.",
        "relevant": "Above the calibrated thresholds: an answer is attempted.",
    },
    "Timings": {
        "condense_ms": "Rewriting a follow-up question.",
        "ttft_ms": "Time to the model's first token.",
        "retrieve_ms": "Retrieval.",
        "generate_ms": "Answer generation (LLM or extractive).",
        "total_ms": "The whole request.",
    },
}
FIELD_DOCS["Citation"] = {**FIELD_DOCS["Passage"], **FIELD_DOCS["Citation"]}
# The OpenAI models the chat-completion response is built from leave their fields undescribed.
FIELD_DOCS |= {
    "RagChatCompletion": {
        "id": "Unique id of this completion (chatcmpl-…).",
        "object": "Always chat.completion.",
        "created": "Unix time (seconds) the completion was created.",
        "model": "The model name the request gave (rag, rag-local, rag-extractive, rag-openai).",
        "choices": "Exactly one choice: the checked answer.",
        "usage": "Token counts: prompt_tokens the LLM read, completion_tokens it wrote (0 and 0 in extractive "
        "mode, where no model runs).",
        "service_tier": "Not used (OpenAI field; absent).",
        "system_fingerprint": "Not used (OpenAI field; absent).",
        "metadata": "Not used (OpenAI field; absent).",
        "moderation": "Not used (OpenAI field; absent).",
        "citations": "Extension: the passages the answer's [n] markers point to (n, text, file, title, section, "
        "score, chunk_id, highlight, highlight_spans).",
        "refused": "Extension: true when the knowledge base does not hold the answer (the content says so).",
        "notice": "Extension: a note for the user, e.g. that the LLM was unreachable and the answer is extractive.",
        "related": "Extension: when refusing, passages that may still interest the user.",
    },
    "Choice": {
        "index": "Always 0 (one choice).",
        "message": "The assistant's message: the checked answer with [n] markers.",
        "finish_reason": "stop: the answer is complete.",
        "logprobs": "Not returned (null).",
    },
    "ChatCompletionMessage": {
        "role": "Always assistant.",
        "content": "The checked answer with [n] markers (citations[].n), or the refusal sentence.",
        "refusal": "Not used (null): a refusal is an answer here, see the extension field `refused`.",
        "annotations": "Not used.",
        "audio": "Not used.",
        "function_call": "Not used.",
        "tool_calls": "Not used.",
    },
    "CompletionUsage": {
        "prompt_tokens": "Tokens of the prompt the LLM read (0 when no model ran).",
        "completion_tokens": "Tokens the LLM wrote (0 when no model ran).",
        "total_tokens": "prompt_tokens + completion_tokens.",
        "completion_tokens_details": "Not used.",
        "prompt_tokens_details": "Not used.",
    },
}


def describe_fields(openapi: dict[str, Any]) -> dict[str, Any]:
    """Write ``FIELD_DOCS`` into an OpenAPI document's component schemas (in place; returned)."""
    schemas = openapi.get("components", {}).get("schemas", {})
    for name, docs in FIELD_DOCS.items():
        properties = schemas.get(name, {}).get("properties", {})
        for field_name, text in docs.items():
            if field_name in properties:
                properties[field_name].setdefault("description", text)
    return openapi


# ---------------------------------------------------------------- OpenAI-compatible


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: Text | None = None


class ChatMessage(BaseModel):
    # OpenAI clients send fields we do not use (name, tool_calls...): accepted and ignored.
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    @field_validator("content", mode="before")
    @classmethod
    def _valid_text(cls, value: object) -> object:
        # Before the union: a bad string is then one error on `content`, not one per union member.
        return valid_unicode(value)

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # Sampling options (temperature, top_p, max_tokens...) are accepted for client
    # compatibility; generation settings come from the server's configuration.
    model_config = ConfigDict(extra="allow")
    model: Text = Field(
        default="rag",
        description="rag (the server's default mode), rag-local, rag-extractive, or rag-openai when "
        "RAG_OPENAI_BASE_URL is set (GET /v1/models lists them); any other name is a 404 model_not_found.",
    )
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=MAX_K, description="Extension: passages to retrieve.")
    mode: Text | None = Field(default=None, description="Extension: answer mode; overrides the one implied by model.")
    stream_raw: bool = Field(
        default=False,
        description="Extension: stream the model's unchecked tokens live; the last chunk's `answer` is the checked text.",
    )


class _AnswerExtras(BaseModel):
    # Not on OpenAI's models: clients that know them read them from `model_extra`.
    citations: list[Citation] = Field(default_factory=list, description="Extension: the passages [n] points to.")
    refused: bool = Field(default=False, description="Extension: the knowledge base does not hold the answer.")
    notice: str | None = Field(default=None, description="Extension: a note for the user (e.g. an LLM fallback).")
    related: list[Passage] = Field(default_factory=list, description="Extension: when refusing, related passages.")


class RagChatCompletion(ChatCompletion, _AnswerExtras):
    """OpenAI's ``chat.completion`` with the answer's citations."""


class RagChatCompletionChunk(ChatCompletionChunk, _AnswerExtras):
    """OpenAI's ``chat.completion.chunk``; the last one also carries the checked ``answer`` and its citations."""

    answer: str | None = Field(default=None, description="Extension (last chunk): the checked answer.")
