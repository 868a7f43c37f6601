"""All configuration, read once from the environment and `.env` (see `.env.example`)."""

from __future__ import annotations

import secrets
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix="RAG_", extra="ignore", env_file_encoding="utf-8"
    )

    # --- paths ---
    corpus_dir: Path = PROJECT_ROOT / "data" / "corpus"
    index_dir: Path = PROJECT_ROOT / "index"
    models_dir: Path = PROJECT_ROOT / "models"
    data_dir: Path = PROJECT_ROOT / "data" / "runtime"

    # --- embeddings ---
    # A sentence-transformers model name or local folder. Empty means the converted
    # multilingual-e5-small under models_dir.
    embedding_model: str = ""
    embedding_query_prefix: str = "query: "
    embedding_passage_prefix: str = "passage: "
    embedding_batch_size: int = 32
    embedding_device: str = "cpu"

    # --- chunking ---
    chunk_size: int = 400
    chunk_overlap: int = 80
    chunk_max_size: int = 600

    # --- retrieval ---
    top_k: int = 5
    retrieval_candidates: int = 30
    fusion: Literal["rrf", "weighted"] = "weighted"
    rrf_k: int = 60
    dense_weight: float = 0.4
    reranker_model: str = ""
    # Below both thresholds the answer step refuses (calibrated on eval/datasets/dev.jsonl).
    min_dense_score: float = 0.86
    min_bm25_score: float = 6.0

    # --- generation ---
    mode: Literal["local", "openai", "extractive"] = "local"
    llm_model_file: str = "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf"
    llm_host: str = "127.0.0.1"
    llm_port: int = 8081
    llm_threads: int = 2
    llm_threads_batch: int | None = None  # prompt-processing threads; None = llm_threads
    llm_cache_ram_mib: int = 1024  # llama.cpp prompt cache between requests
    llm_context: int = 4096
    # Characters of passage text sent to the model. On a CPU the prompt is read at
    # ~55 tokens/s (1.5B, 2 cores), so this sets the time to first token.
    llm_context_chars: int = 270
    openai_base_url: str = ""
    openai_api_key: str = "not-needed"
    openai_model: str = ""
    llm_timeout_s: float = 60.0
    llm_max_tokens: int = 256
    llm_temperature: float = 0.1
    # Refuse when the model's log-probability of opening with "无法回答" is at least
    # this, even if it went on to answer (calibrated on the dev set for the local
    # 1.5B model; see rag.answer.llm.AnswerStream). Empty = off, e.g. for an
    # endpoint that returns no logprobs or a model not calibrated.
    llm_no_answer_logprob: float | None = -3.5
    max_question_chars: int = 500

    # --- serving ---
    host: str = "127.0.0.1"
    port: int = 7860
    api_token: str = ""
    # Guards the UI's admin tab (upload, list, remove, re-ingest). Empty = api_token;
    # set it apart when api_token is handed out (e.g. in widget pages).
    admin_token: str = ""
    cors_origins: list[str] = Field(default_factory=list)

    @field_validator("llm_no_answer_logprob", "llm_threads_batch", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # "RAG_LLM_NO_ANSWER_LOGPROB=" in .env means off, not a parse error.
        return None if isinstance(value, str) and not value.strip() else value

    @property
    def embedding_model_path(self) -> str:
        return self.embedding_model or str(self.models_dir / "multilingual-e5-small")

    @property
    def llm_model_path(self) -> Path:
        return self.models_dir / self.llm_model_file

    @property
    def required_admin_token(self) -> str:
        """The token the admin tab asks for; empty when the tab is open to everyone."""
        return self.admin_token or self.api_token


def token_accepted(required: str, given: str | None) -> bool:
    """True when no token is configured (``required`` empty) or ``given`` is it."""
    if not required:
        return True
    # compare_digest: a plain == leaks how many leading characters matched through timing.
    return secrets.compare_digest((given or "").encode(), required.encode())


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
