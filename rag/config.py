"""All configuration, read once from the environment and `.env` (see `.env.example`).

A misformatted value never surfaces as pydantic's traceback: :func:`load_settings`
turns it into a ``ConfigError`` with one line per bad key, naming the ``RAG_`` variable
and the format it needs (the CLI prints those lines and exits 2).
"""

from __future__ import annotations

import json
import re
import secrets
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import urlsplit

from pydantic import Field, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict, SettingsError

from rag.errors import ConfigError, QuestionError

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "RAG_"

Mode = Literal["local", "openai", "extractive"]
# Every answer mode the engine knows; ``available_modes`` says which ones this configuration can serve.
MODES: tuple[str, ...] = get_args(Mode)


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_prefix=ENV_PREFIX, extra="ignore", env_file_encoding="utf-8"
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
    # torch (sentence-transformers fp32), onnx (ONNX Runtime fp32, same vectors) or
    # onnx-int8 (int8 weights; vectors at cosine ~0.997 of fp32). ONNX needs `rag setup`.
    embedding_backend: Literal["torch", "onnx", "onnx-int8"] = "onnx-int8"
    # Any OpenAI-compatible /v1/embeddings endpoint (TEI, vLLM, Infinity, another `rag serve`);
    # empty = embed in this process. RAG_EMBEDDING_MODEL then names the served model.
    embedding_base_url: str = ""
    embedding_api_key: str = "not-needed"

    # --- retrieval store (rag.index.stores) ---
    # embedded: FAISS + bm25s + SQLite under index_dir; milvus: a Milvus collection.
    store: Literal["embedded", "milvus"] = "embedded"
    # A local path ending in .db is Milvus Lite (one process at a time); http(s)://host:19530
    # a Milvus standalone or distributed cluster. Empty = <index_dir>/milvus.db.
    milvus_uri: str = ""
    milvus_token: str = ""
    milvus_collection: str = "rag_chunks"

    # --- dense index (rag.index.dense_index) and ingest batches (rag.ingest.batches) ---
    # Exact IndexFlatIP below faiss_exact_max vectors; from there on the FAISS index factory
    # string faiss_factory (inner product), e.g. HNSW32 or IVF1024,Flat ("Flat" = always exact).
    faiss_factory: str = "HNSW32"
    faiss_exact_max: int = 50_000
    faiss_ef_search: int = 128
    faiss_nprobe: int = 16
    # Chunks embedded and persisted together (index/staging/): a killed ingest resumes
    # after the last persisted batch.
    ingest_batch_chunks: int = 256

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
    # The learned sentence ranker and answerability gate (eval/train_evidence_ranker.py
    # writes one for a corpus of your own); empty = the bundled one.
    evidence_model: Path | None = None
    # Refuse when the gate says the passages do not answer the question (near misses).
    answer_gate: bool = True

    # --- generation ---
    mode: Mode = "local"
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
    # Sampling seed sent with every request: the same question over the same passages gets
    # the same answer, and two evaluation runs differ only where the code does (without it,
    # 36 of 175 local answers differed between two runs of the same code). Empty = the
    # endpoint's own randomness.
    llm_seed: int | None = 0
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
    # NoDecode: the raw string reaches ``_origin_list``, which takes a comma-separated
    # list (what people write) as well as a JSON list (what pydantic-settings expects).
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    @field_validator("llm_no_answer_logprob", "llm_threads_batch", "evidence_model", "llm_seed", mode="before")
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        # "RAG_LLM_NO_ANSWER_LOGPROB=" in .env means off, not a parse error.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("evidence_model")
    @classmethod
    def _model_file_exists(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_file():
            raise ValueError(f"找不到证据模型文件 {value}（需要 eval/train_evidence_ranker.py 写出的 JSON）")
        return value

    @field_validator("milvus_uri")
    @classmethod
    def _milvus_uri(cls, value: str) -> str:
        value = value.strip()
        if not value or value.endswith(".db"):
            return value
        parsed = urlsplit(value)
        if parsed.scheme in ("http", "https", "tcp") and parsed.hostname:
            return value
        raise ValueError("需要以 .db 结尾的本地文件路径（Milvus Lite）或 http://host:19530 这样的地址")

    @field_validator("milvus_collection")
    @classmethod
    def _milvus_name(cls, value: str) -> str:
        # Milvus's own rule for collection names; checked here so the mistake is one line at start-up.
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,199}", value):
            raise ValueError("需要以字母或下划线开头、只含字母数字和下划线的名称，如 rag_chunks")
        return value

    @field_validator("embedding_base_url")
    @classmethod
    def _base_url(cls, value: str) -> str:
        value = value.strip().rstrip("/")
        if value and not (urlsplit(value).scheme in ("http", "https") and urlsplit(value).hostname):
            raise ValueError("需要 http(s):// 开头的地址，如 http://127.0.0.1:8080/v1")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origin_list(cls, value: object) -> object:
        """``http://a,http://b`` or ``["http://a", "http://b"]``; empty = no cross-origin access."""
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                raise ValueError("需要逗号分隔的来源列表或 JSON 列表，如 http://a.example,http://b.example") from None
        return [origin.strip() for origin in text.split(",") if origin.strip()]

    @property
    def embedding_model_path(self) -> str:
        return self.embedding_model or str(self.models_dir / "multilingual-e5-small")

    @property
    def milvus_target(self) -> str:
        """The Milvus URI to connect to: the setting, or Milvus Lite's file in the index folder."""
        return self.milvus_uri or str(self.index_dir / "milvus.db")

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


def available_modes(settings: Settings) -> tuple[str, ...]:
    """The answer modes this configuration can serve, in ``MODES`` order.

    ``openai`` needs an endpoint (``RAG_OPENAI_BASE_URL``); offering it without one only
    leads to a fallback notice. The API's ``/v1/models`` and the UI offer these.
    """
    return tuple(mode for mode in MODES if mode != "openai" or settings.openai_base_url)


def check_mode(mode: str | None, settings: Settings) -> None:
    """``QuestionError`` unless ``mode`` is None (the configured default) or one of ``available_modes``.

    Checked where a request arrives (API, CLI), so asking for an unconfigured mode is an
    error the user sees, not a silent fallback to extractive.
    """
    if mode is None or mode in available_modes(settings):
        return
    if mode in MODES:
        raise QuestionError(f"模式 {mode!r} 未配置：需要设置 RAG_OPENAI_BASE_URL (mode {mode!r} is not configured)")
    raise QuestionError(f"未知模式 {mode!r}，可选：{', '.join(available_modes(settings))} (unknown mode)")


def check_question(text: object, settings: Settings) -> str:
    """The question stripped; ``QuestionError`` when it is not text, empty or longer than
    ``max_question_chars``. Cheap: callers check before loading any model."""
    if not isinstance(text, str):
        raise QuestionError("问题必须是文本 (question must be a string)")
    text = text.strip()
    if not text:
        raise QuestionError("问题不能为空 (question is empty)")
    if len(text) > settings.max_question_chars:
        raise QuestionError(
            f"问题过长：最多 {settings.max_question_chars} 个字符 "
            f"(question longer than {settings.max_question_chars} characters)"
        )
    return text


# What a value of each kind must look like, by pydantic error type (the line the user reads).
_EXPECTED = {
    "int_parsing": "需要整数",
    "int_type": "需要整数",
    "int_from_float": "需要整数",
    "float_parsing": "需要数字",
    "float_type": "需要数字",
    "bool_parsing": "需要 true 或 false",
    "bool_type": "需要 true 或 false",
    "list_type": "需要列表",
    "path_type": "需要路径",
}


def _expected(error: dict[str, Any]) -> str:
    kind = error.get("type", "")
    ctx = error.get("ctx") or {}
    if kind == "literal_error":
        return f"需要 {ctx.get('expected')} 之一"
    if kind == "value_error" and "error" in ctx:
        return str(ctx["error"])
    return _EXPECTED.get(kind, str(error.get("msg", "格式错误")))


def settings_problems(exc: ValidationError) -> list[str]:
    """One line per misformatted key, e.g. 「设置 RAG_TOP_K 无效：需要整数 (got 'abc')」."""
    lines: dict[str, str] = {}
    for error in exc.errors():
        field = str(error["loc"][0]) if error.get("loc") else "?"
        key = ENV_PREFIX + field.upper()
        lines.setdefault(key, f"设置 {key} 无效：{_expected(error)} (got {error.get('input')!r})")
    return list(lines.values())


def load_settings(**overrides: Any) -> Settings:
    """``Settings(**overrides)``; a ``ConfigError`` with one line per bad key instead of pydantic's report."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise ConfigError("\n".join(settings_problems(exc))) from None
    except SettingsError as exc:  # a value pydantic-settings could not even decode
        raise ConfigError(f"设置无效：{exc}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The environment's settings (read once); ``ConfigError`` when a value is misformatted."""
    return load_settings()
