"""Request and response models of the HTTP API.

They document the API (OpenAPI at /docs) and reject malformed input before it
reaches the service. Limits that live in settings (question length, known modes)
are checked by the service itself, which raises ``QuestionError``; the app maps
both kinds of failure to the same 422 error shape, so clients see one convention.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# k beyond this is never useful (the answer prompt holds a handful of passages) and
# a large k makes retrieval and the prompt needlessly slow.
MAX_K = 50


class _Strict(BaseModel):
    # Unknown fields are rejected so a typo ("questoin") fails loudly instead of
    # being ignored; strict types stop "k": "5" or "question": 123 from coercing.
    model_config = ConfigDict(extra="forbid", strict=True)


class HistoryMessage(_Strict):
    role: Literal["user", "assistant"]
    content: str = Field(max_length=20_000)


class AskRequest(_Strict):
    question: str = Field(description="The question, in Chinese or English.", examples=["黑石BXPE基金的管理费是多少？"])
    history: list[HistoryMessage] | None = Field(
        default=None, max_length=50, description="Earlier turns of the conversation, oldest first."
    )
    k: int | None = Field(default=None, ge=1, le=MAX_K, description="Passages to retrieve (default: settings.top_k).")
    mode: str | None = Field(
        default=None,
        description="Answer mode: local (bundled LLM), openai (configured endpoint) or extractive (no LLM).",
        examples=["extractive"],
    )

    def history_dicts(self) -> list[dict[str, str]] | None:
        return [m.model_dump() for m in self.history] if self.history is not None else None


class SearchRequest(_Strict):
    query: str = Field(min_length=1, max_length=2_000, examples=["2023年中国汽车出口"])
    k: int | None = Field(default=None, ge=1, le=MAX_K)


class Passage(BaseModel):
    text: str
    file: str
    title: str = ""
    section: str = ""
    score: float
    chunk_id: str


class SearchResponse(BaseModel):
    query: str
    results: list[Passage]


class Citation(Passage):
    n: int
    # The supporting sentence(s) inside ``text``; a list when several sentences support it.
    highlight: str | list[str] | None = None


class Timings(BaseModel):
    model_config = ConfigDict(extra="allow")
    retrieve_ms: float | None = None
    generate_ms: float | None = None
    total_ms: float | None = None
    ttft_ms: float | None = None


class AskResponse(BaseModel):
    # extra="allow": the service may add diagnostic fields; clients get them unchanged.
    model_config = ConfigDict(extra="allow")
    question: str
    answer: str
    refused: bool
    mode: str
    citations: list[Citation]
    timings: Timings
    notice: str | None = None
    related: list[dict[str, Any]] = Field(default_factory=list)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None = None
    code: str | None = None


class ErrorResponse(BaseModel):
    """Every 4xx/5xx body has this shape (the same as OpenAI's, so its clients parse it)."""

    error: ErrorDetail


class HealthResponse(BaseModel):
    model_config = ConfigDict(extra="allow")
    status: Literal["ok", "loading", "error"]
    index_version: str | None = None


# ---------------------------------------------------------------- OpenAI-compatible


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow")
    type: str
    text: str | None = None


class ChatMessage(BaseModel):
    # OpenAI clients send fields we do not use (name, tool_calls...): accepted and ignored.
    model_config = ConfigDict(extra="allow")
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None

    def text(self) -> str:
        if isinstance(self.content, list):
            return "".join(part.text or "" for part in self.content if part.type == "text")
        return self.content or ""


class ChatCompletionRequest(BaseModel):
    # Sampling options (temperature, top_p, max_tokens...) are accepted for client
    # compatibility; generation settings come from the server's configuration.
    model_config = ConfigDict(extra="allow")
    model: str = "rag"
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    k: int | None = Field(default=None, ge=1, le=MAX_K, description="Extension: passages to retrieve.")
    mode: str | None = Field(default=None, description="Extension: answer mode; overrides the one implied by model.")
    stream_raw: bool = Field(
        default=False,
        description="Extension: stream the model's unchecked tokens live; the last chunk's `answer` is the checked text.",
    )
