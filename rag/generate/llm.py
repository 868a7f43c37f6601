"""LLM generation over any OpenAI-compatible endpoint, as LangChain runnables.

`local` mode points at the xllamacpp server this package starts on 127.0.0.1;
`openai` mode at whatever base URL `.env` names (vLLM, Ollama, DeepSeek, Qwen).
The client code is the same for both.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from dataclasses import dataclass

from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_openai import ChatOpenAI

from rag.config import Settings
from rag.generate.prompts import load_prompt

log = logging.getLogger(__name__)

NO_ANSWER_TOKEN = "无法回答"
# Passages must not be able to close the data block and speak as the prompt.
_TAG = re.compile(r"</?\s*资料\s*>")


@dataclass
class Excerpt:
    n: int
    title: str
    source: str
    text: str


def format_passages(excerpts: list[Excerpt]) -> str:
    lines = []
    for e in excerpts:
        head = f"[{e.n}]《{e.title}》" if e.title else f"[{e.n}]"
        lines.append(f"{head}{_TAG.sub('', e.text)}")
    return "\n".join(lines)


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
            streaming=True,
        )
        self.answer_chain = (
            ChatPromptTemplate.from_messages(
                [("system", load_prompt("answer_system")), ("human", load_prompt("answer_user"))]
            )
            | self.llm
            | StrOutputParser()
        )
        self.condense_chain = (
            ChatPromptTemplate.from_messages([("human", load_prompt("condense"))]) | self.llm | StrOutputParser()
        )

    def condense(self, question: str, history: list[dict]) -> str:
        """Rewrite a follow-up ("那它的管理费呢？") as a standalone question."""
        turns = [f"{'用户' if m.get('role') == 'user' else '助手'}：{str(m.get('content', ''))[:200]}" for m in history[-4:]]
        rewritten = self.condense_chain.invoke({"history": "\n".join(turns), "question": question}).strip()
        rewritten = rewritten.splitlines()[0].strip() if rewritten else ""
        rewritten = re.sub(r"^(改写后的问题|问题)[:：]\s*", "", rewritten)
        return rewritten if 2 <= len(rewritten) <= 200 else question

    def stream_answer(self, question: str, excerpts: list[Excerpt]) -> Iterator[str]:
        yield from self.answer_chain.stream({"passages": format_passages(excerpts), "question": question})


def generator_for(settings: Settings, mode: str) -> LLMGenerator:
    """The generator for `local` (start/reuse the xllamacpp server) or `openai` (endpoint from .env)."""
    if mode == "openai":
        if not settings.openai_base_url:
            raise ValueError("mode 'openai' needs RAG_OPENAI_BASE_URL (and RAG_OPENAI_MODEL) in .env")
        return LLMGenerator(settings.openai_base_url, settings.openai_model, settings.openai_api_key, settings)
    from rag.generate.llm_server import ensure_local_server

    base_url = ensure_local_server(settings)
    return LLMGenerator(base_url, settings.openai_model or settings.llm_model_file, "not-needed", settings)
