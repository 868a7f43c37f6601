"""Fixtures for the UI tests: a service over a tiny hostile corpus, a browser.

The shared `service` on the bundled corpus comes from tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest
from tests.ui.ui_support import CHROMEDRIVER, CHROMIUM, chrome, close, write_xss_corpus

from rag.config import Settings

if TYPE_CHECKING:  # imported in the fixture: the unit tests run without the engine
    from rag.service import RagService


@pytest.fixture(scope="session")
def small_service(tmp_path_factory: pytest.TempPathFactory) -> RagService:
    """A service over its own two-article corpus whose title and text carry <script>/<img onerror>.

    Separate folders for corpus, uploads and index, so admin tests may add and remove
    files without touching the shared index.
    """
    from rag.ingest.pipeline import ingest
    from rag.service import RagService

    root = tmp_path_factory.mktemp("small")
    write_xss_corpus(root / "corpus")
    settings = Settings(_env_file=None, corpus_dir=root / "corpus", index_dir=root / "index", data_dir=root / "runtime")
    ingest([root / "corpus"], index_dir=settings.index_dir, settings=settings, progress=False)
    return RagService(settings=settings)


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if not CHROMIUM.exists() or not CHROMEDRIVER.exists():
        pytest.skip("needs Debian's chromium and chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver)")
    pytest.importorskip("selenium")
    driver = chrome()
    yield driver
    close(driver)
