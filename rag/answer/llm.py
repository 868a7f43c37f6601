"""LLM generation over any OpenAI-compatible endpoint, as LangChain runnables.

`local` mode points at the xllamacpp server this package starts on 127.0.0.1;
`openai` mode at whatever base URL `.env` names (vLLM, Ollama, DeepSeek, Qwen).
The client code is the same for both.

Errors: an endpoint that cannot be reached, times out or answers with an error
becomes ``rag.errors.LLMUnavailableError`` (the service then answers extractively);
so does a local server that cannot start (``LLMServerError`` is one).  Everything
else is a bug and propagates.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import openai
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from rag.answer.prompts import load_examples, load_prompt
from rag.config import Settings
from rag.errors import LLMUnavailableError

log = logging.getLogger(__name__)

NO_ANSWER_TOKEN = "无法回答"
# Passages must not be able to close the data block and speak as the prompt.
_TAG = re.compile(r"</?\s*资料\s*>")
# Titles only name the article (8 characters keep the topic); every title token
# costs prompt-reading time before the first answer token.
MAX_TITLE_CHARS = 8
TOP_LOGPROBS = 10


@contextmanager
def endpoint_errors() -> Iterator[None]:
    """Turn the client's endpoint failures into ``LLMUnavailableError``.

    ``openai.APIError`` is the whole family on purpose, as measured against a dead
    port, a server that sleeps past the timeout, one that answers 500, one that drops
    the connection mid-stream and one that sends an error event in the stream:
    langchain-openai re-raises openai's errors as its own subclasses
    (``OpenAIConnectionError``, ``OpenAITimeoutError``, ``OpenAIAPIError``), and openai
    wraps httpx2's transport errors, also those while streaming, in
    ``APIConnectionError`` / ``APITimeoutError``; only the in-stream error event
    arrives as a bare ``APIError``.  No raw httpx error gets past the client.
    ``reason`` is the class name, as the fallback notice has always shown it.
    """
    try:
        yield
    except openai.APIError as exc:
        if isinstance(exc, openai.APITimeoutError):
            what = "大模型服务响应超时"
        elif isinstance(exc, openai.APIConnectionError):
            what = "无法连接大模型服务"
        elif isinstance(exc, openai.APIStatusError):
            what = f"大模型服务返回错误（HTTP {exc.status_code}）"
        else:
            what = "大模型服务返回错误"
        raise LLMUnavailableError(f"{what}（{type(exc).__name__}: {exc}）", reason=type(exc).__name__) from exc


@dataclass
class Excerpt:
    n: int
    title: str
    source: str
    text: str


def format_passages(excerpts: list[Excerpt]) -> str:
    lines = []
    for e in excerpts:
        title = _TAG.sub("", e.title)[:MAX_TITLE_CHARS]
        head = f"[{e.n}]《{title}》" if title else f"[{e.n}]"
        lines.append(f"{head}{_TAG.sub('', e.text)}")
    return "\n".join(lines)


@dataclass
class AnswerStream:
    """The answer's text pieces as the model writes them; after iteration,
    ``no_answer_logprob`` holds the log-probability the model gave to opening with
    "无法回答" (None when the endpoint returns no logprobs).

    A small model that writes an answer often still puts real weight on refusing:
    on the dev set that weight separates near-miss questions (right topic, fact not
    in the passages) from answerable ones better than anything the answer says.
    """

    chunks: Iterator[Any]
    no_answer_logprob: float | None = None
    first_tokens: dict[str, float] = field(default_factory=dict)

    def __iter__(self) -> Iterator[str]:
        """The text pieces; raises ``LLMUnavailableError`` when the endpoint fails (see ``endpoint_errors``)."""
        with endpoint_errors():
            for chunk in self.chunks:
                if not self.first_tokens:
                    self._read_logprobs(chunk.response_metadata.get("logprobs"))
                if chunk.content:
                    yield str(chunk.content)

    def _read_logprobs(self, logprobs: Any) -> None:
        content = (logprobs or {}).get("content") if isinstance(logprobs, dict) else None
        if not content:
            return
        top = content[0].get("top_logprobs") or [content[0]]
        self.first_tokens = {t["token"]: float(t["logprob"]) for t in top if "token" in t and "logprob" in t}
        refusing = [lp for token, lp in self.first_tokens.items() if token and NO_ANSWER_TOKEN.startswith(token.strip())]
        # Not among the top tokens: at most as likely as the least likely of them.
        self.no_answer_logprob = max(refusing) if refusing else min(self.first_tokens.values(), default=-math.inf)


class LLMGenerator:
    """Condenses follow-ups and streams cited answers from an OpenAI-compatible chat model."""

    def __init__(self, base_url: str, model: str, api_key: str, settings: Settings):
        self.llm = ChatOpenAI(
            base_url=base_url,
            model=model or "local",
            api_key=api_key or "not-needed",
            timeout=settings.llm_timeout_s,
            max_retries=0,  # a dead endpoint must fail fast so the extractive fallback answers
            max_tokens=settings.llm_max_tokens,
            temperature=settings.llm_temperature,
            seed=settings.llm_seed,
            streaming=True,
        )
        # Worked examples as earlier turns: the 1.5B model copies their form (whole
        # sentences, every part answered, "无法回答" for a near miss). They sit in
        # the fixed prefix, so the server's prompt cache pays for them once.
        examples: list[Any] = []
        for ex in load_examples("answer_examples"):
            user = load_prompt("answer_user").format(passages=ex["passages"], question=ex["question"])
            examples += [HumanMessage(user), AIMessage(ex["answer"])]
        self.answer_prompt = ChatPromptTemplate.from_messages(
            [("system", load_prompt("answer_system")), *examples, ("human", load_prompt("answer_user"))]
        )
        # Logprobs only when they are used: not every endpoint returns them.
        wants_doubt = settings.llm_no_answer_logprob is not None
        answer_llm = self.llm.bind(logprobs=True, top_logprobs=TOP_LOGPROBS) if wants_doubt else self.llm
        self.answer_chain = self.answer_prompt | answer_llm
        self.condense_chain = (
            ChatPromptTemplate.from_messages([("human", load_prompt("condense"))]) | self.llm | StrOutputParser()
        )

    def condense(self, question: str, history: list[dict]) -> str:
        """Rewrite a follow-up ("那它的管理费呢？") as a standalone question."""
        turns = [f"{'用户' if m.get('role') == 'user' else '助手'}：{str(m.get('content', ''))[:200]}" for m in history[-4:]]
        with endpoint_errors():
            rewritten = self.condense_chain.invoke({"history": "\n".join(turns), "question": question}).strip()
        rewritten = rewritten.splitlines()[0].strip() if rewritten else ""
        rewritten = re.sub(r"^(改写后的问题|问题)[:：]\s*", "", rewritten)
        return rewritten if 2 <= len(rewritten) <= 200 else question

    def stream_answer(self, question: str, excerpts: list[Excerpt]) -> AnswerStream:
        """The answer as it is written; the request is sent when iteration starts."""
        return AnswerStream(self.answer_chain.stream({"passages": format_passages(excerpts), "question": question}))


def generator_for(settings: Settings, mode: str) -> LLMGenerator:
    """The generator for `local` (start/reuse the xllamacpp server) or `openai` (endpoint from .env).

    Raises ``LLMUnavailableError`` when `openai` has no endpoint configured or the local
    server cannot be started (``LLMServerError``).
    """
    if mode == "openai":
        if not settings.openai_base_url:
            raise LLMUnavailableError(
                "未配置 RAG_OPENAI_BASE_URL（mode 'openai' needs RAG_OPENAI_BASE_URL and RAG_OPENAI_MODEL in .env）",
                reason="未配置 RAG_OPENAI_BASE_URL",
            )
        return LLMGenerator(settings.openai_base_url, settings.openai_model, settings.openai_api_key, settings)
    from rag.llm_runtime.registry import ensure_local_server

    base_url = ensure_local_server(settings)
    return LLMGenerator(base_url, settings.openai_model or settings.llm_model_file, "not-needed", settings)
