"""Shared fixtures: one real index of the bundled corpus per test session, one real local LLM server."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from rag.config import PROJECT_ROOT, Settings

CORPUS = PROJECT_ROOT / "data" / "corpus"


@pytest.fixture(scope="session")
def settings(tmp_path_factory) -> Settings:
    data = tmp_path_factory.mktemp("runtime")
    return Settings(_env_file=None, data_dir=data, index_dir=data / "index", mode="extractive")


@pytest.fixture(scope="session")
def index_dir(settings: Settings) -> Path:
    """The bundled corpus ingested with the real embedding model (built once per session).

    RAG_TEST_INDEX may name a prebuilt index to copy instead, to speed up local runs.
    """
    from rag.ingest.pipeline import ingest

    prebuilt = os.environ.get("RAG_TEST_INDEX")
    if prebuilt and (Path(prebuilt) / "CURRENT").exists():
        shutil.copytree(prebuilt, settings.index_dir, dirs_exist_ok=True)
    ingest([CORPUS], settings.index_dir, settings=settings, progress=False)
    return settings.index_dir


@pytest.fixture(scope="session")
def service(settings: Settings, index_dir: Path):
    from rag.service import RagService

    return RagService(settings, index_dir).warm_up()


@pytest.fixture(scope="session")
def llm_server():
    """A real xllamacpp server with the 0.5B GGUF on a free loopback port."""
    from rag.llm_runtime.server import LocalLLMServer
    from rag.models.llm_assemble import assemble

    model = assemble("0.5b")
    server = LocalLLMServer(model, host="127.0.0.1", port=0, threads=2, ctx=4096)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def llm_settings(settings: Settings, llm_server) -> Settings:
    # The refusal threshold on the model's doubt is calibrated for the 1.5B; the 0.5B
    # is far less sure of itself (a plain copied figure opens at log p("无法") ~ -2.6).
    return settings.model_copy(
        update={
            "mode": "local",
            "llm_port": llm_server.port,
            "llm_model_file": llm_server.model_path.name,
            "llm_no_answer_logprob": None,
        }
    )


@pytest.fixture(autouse=True)
def jiebas_own_dictionary():
    """Each test starts with jieba's own dictionary: a service or store puts its index's
    lexicon in use for every question, and a unit test expects jieba's plain cuts."""
    from rag.index.tokenize import EMPTY_LEXICON, use_lexicon

    use_lexicon(EMPTY_LEXICON)
    yield
