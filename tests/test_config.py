"""Settings from the environment: list syntax, one clear line per misformatted key, the modes on offer."""

from __future__ import annotations

import pytest

from rag.config import MODES, available_modes, check_mode, check_question, load_settings
from rag.errors import ConfigError, QuestionError


@pytest.fixture(autouse=True)
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No RAG_* variable of the developer's shell leaks in (and no .env: every load passes _env_file=None)."""
    import os

    for key in [k for k in os.environ if k.startswith("RAG_")]:
        monkeypatch.delenv(key)
    return monkeypatch


@pytest.mark.parametrize(
    ("raw", "origins"),
    [
        ("http://127.0.0.1:8899", ["http://127.0.0.1:8899"]),  # what the README's wording leads people to write
        ("http://a.example, https://b.example:8443 ,", ["http://a.example", "https://b.example:8443"]),
        ('["http://a.example", "http://b.example"]', ["http://a.example", "http://b.example"]),
        ("", []),
    ],
)
def test_cors_origins_take_a_comma_list_or_json(clean_env: pytest.MonkeyPatch, raw: str, origins: list[str]) -> None:
    clean_env.setenv("RAG_CORS_ORIGINS", raw)
    assert load_settings(_env_file=None).cors_origins == origins


def test_cors_origins_in_a_dotenv_file(clean_env: pytest.MonkeyPatch, tmp_path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("RAG_CORS_ORIGINS=http://intranet.example,https://portal.example\n", encoding="utf-8")
    assert load_settings(_env_file=env_file).cors_origins == ["http://intranet.example", "https://portal.example"]


def test_a_bad_value_is_one_line_naming_the_key_and_the_format(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RAG_TOP_K", "abc")
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    assert str(caught.value) == "设置 RAG_TOP_K 无效：需要整数 (got 'abc')"


def test_every_bad_key_gets_its_own_line(clean_env: pytest.MonkeyPatch) -> None:
    for key, value in {
        "RAG_TOP_K": "abc",
        "RAG_DENSE_WEIGHT": "heavy",
        "RAG_MODE": "psychic",
        "RAG_LLM_THREADS_BATCH": "two",
        "RAG_CORS_ORIGINS": '["http://a.example"',
    }.items():
        clean_env.setenv(key, value)
    with pytest.raises(ConfigError) as caught:
        load_settings(_env_file=None)
    lines = str(caught.value).splitlines()
    assert len(lines) == 5
    by_key = {line.split()[1]: line for line in lines}
    assert "需要整数" in by_key["RAG_TOP_K"]
    assert "需要数字" in by_key["RAG_DENSE_WEIGHT"] and "'heavy'" in by_key["RAG_DENSE_WEIGHT"]
    assert "'local'" in by_key["RAG_MODE"] and "'extractive'" in by_key["RAG_MODE"]
    assert "需要整数" in by_key["RAG_LLM_THREADS_BATCH"]
    assert "逗号分隔" in by_key["RAG_CORS_ORIGINS"] and "JSON" in by_key["RAG_CORS_ORIGINS"]
    assert all(line.startswith("设置 RAG_") and "Traceback" not in line for line in lines)


def test_empty_optional_numbers_mean_off(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("RAG_LLM_NO_ANSWER_LOGPROB", "")
    clean_env.setenv("RAG_LLM_THREADS_BATCH", " ")
    settings = load_settings(_env_file=None)
    assert settings.llm_no_answer_logprob is None and settings.llm_threads_batch is None


def test_openai_mode_is_offered_only_with_an_endpoint() -> None:
    assert available_modes(load_settings(_env_file=None)) == ("local", "extractive")
    configured = load_settings(_env_file=None, openai_base_url="http://127.0.0.1:11434/v1")
    assert available_modes(configured) == MODES == ("local", "openai", "extractive")


def test_check_mode_rejects_unknown_and_unconfigured_modes() -> None:
    settings = load_settings(_env_file=None)
    check_mode(None, settings)  # the configured default
    check_mode("extractive", settings)
    with pytest.raises(QuestionError, match="RAG_OPENAI_BASE_URL"):
        check_mode("openai", settings)
    with pytest.raises(QuestionError, match="unknown mode"):
        check_mode("psychic", settings)
    check_mode("openai", settings.model_copy(update={"openai_base_url": "http://127.0.0.1:9/v1"}))


def test_check_question_is_cheap_and_strict() -> None:
    settings = load_settings(_env_file=None, max_question_chars=10)
    assert check_question("  管理费？ ", settings) == "管理费？"
    with pytest.raises(QuestionError, match="question is empty"):
        check_question(" \n ", settings)
    with pytest.raises(QuestionError, match="longer than 10"):
        check_question("长" * 11, settings)
    with pytest.raises(QuestionError, match="must be a string"):
        check_question(123, settings)
