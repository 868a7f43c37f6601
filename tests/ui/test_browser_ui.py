"""The Gradio UI in headless Chromium: ask, read the cited passage, feedback, refusal, XSS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from tests.ui.ui_support import XSS_QUESTION, screenshot

from rag.server import build_app, running_server
from rag.service import RagService

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT = 90  # extractive answers take ~1-3 s; generous for a loaded 2-core machine


@pytest.fixture(scope="module")
def runtime_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("runtime")


@pytest.fixture(scope="module")
def ui_url(service: RagService, runtime_dir: Path) -> Iterator[str]:
    # Default mode extractive: the browser tests check the UI, not the (slow) CPU LLM.
    settings = service.settings.model_copy(update={"mode": "extractive", "data_dir": runtime_dir})
    with running_server(build_app(settings, service=service)) as url:
        yield url


@pytest.fixture(autouse=True)
def leave_page(browser: WebDriver) -> Iterator[None]:
    """Close the page's open connections before a server stops (no shutdown noise)."""
    yield
    browser.get("about:blank")


def open_ui(browser: WebDriver, url: str) -> None:
    browser.get(f"{url}/")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))


def ask(browser: WebDriver, question: str) -> None:
    before = len(browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)"))
    box = browser.find_element(By.CSS_SELECTOR, "#rag-question textarea")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, ANSWER_TIMEOUT).until(
        lambda d: len(d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer:not(.rag-streaming)")) > before
    )


def test_question_answer_and_citation_passage(browser: WebDriver, ui_url: str) -> None:
    open_ui(browser, ui_url)
    assert browser.current_url.endswith("/ui/")
    ask(browser, "黑石BXPE基金的管理费是多少？")
    answer = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1]
    assert "1.25%" in answer.text
    link = answer.find_element(By.CSS_SELECTOR, "a.rag-cite")
    assert link.text == "[1]"
    screenshot(browser, "ui-answer.png")

    # Collapse the passage first, so the click has something to do.
    browser.execute_script("document.getElementById('src-0-1').open = false")
    link.click()
    passage = browser.find_element(By.ID, "src-0-1")
    WebDriverWait(browser, 5).until(lambda d: passage.get_attribute("open") is not None)
    mark = passage.find_element(By.TAG_NAME, "mark")
    assert "1.25%的管理费" in mark.text
    assert mark.is_displayed()
    assert "美国大型PE调降管理费" in passage.find_element(By.TAG_NAME, "summary").text
    assert ".txt" in passage.find_element(By.CSS_SELECTOR, ".rag-meta").text
    assert browser.current_url.endswith("/ui/")  # the link scrolled, it did not navigate
    screenshot(browser, "ui-citation.png")


def test_refusal_feedback_and_clear(browser: WebDriver, ui_url: str, runtime_dir: Path) -> None:
    open_ui(browser, ui_url)
    ask(browser, "火星上有几只猫？")
    refusal = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-refusal")[-1]
    assert "没有找到" in refusal.text and "可能相关的资料" in refusal.text
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources [id^='rel-0-']")
    screenshot(browser, "ui-refusal.png")

    ask(browser, "2023年中国汽车出口了多少辆？")
    assert "491万辆" in browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1].text
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources #src-1-1")
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources [id^='rel-0-']")  # earlier turn kept

    browser.find_elements(By.CSS_SELECTOR, "#rag-chat button[aria-label='Like']")[-1].click()
    feedback = runtime_dir / "feedback.jsonl"
    WebDriverWait(browser, 20).until(lambda d: feedback.exists() and feedback.read_text(encoding="utf-8").strip())
    row = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert row["rating"] == "up" and row["question"] == "2023年中国汽车出口了多少辆？"
    assert "491万辆" in row["answer"] and row["citations"]

    browser.find_element(By.ID, "rag-clear").click()
    WebDriverWait(browser, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer"))
    assert "提问后" in browser.find_element(By.ID, "rag-sources").text


def test_admin_tab_lists_indexed_files(browser: WebDriver, ui_url: str, service: RagService) -> None:
    open_ui(browser, ui_url)
    browser.find_element(By.XPATH, "//button[@role='tab' and contains(., '管理')]").click()
    first = service.documents.list_files()[0].file
    WebDriverWait(browser, 20).until(lambda d: first in d.find_element(By.ID, "rag-files").text)
    screenshot(browser, "ui-admin.png")


def test_document_markup_renders_as_text(browser: WebDriver, small_service: RagService, tmp_path: Path) -> None:
    settings = small_service.settings.model_copy(update={"mode": "extractive", "data_dir": tmp_path})
    with running_server(build_app(settings, service=small_service)) as url:
        open_ui(browser, url)
        ask(browser, XSS_QUESTION)
        browser.find_elements(By.CSS_SELECTOR, "#rag-chat a.rag-cite")[-1].click()
        answer = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1]
        assert '<img src=x onerror="window.__xss=1">' in answer.text
        sources = browser.find_element(By.ID, "rag-sources").text
        assert "<script>window.__xss=2</script>" in sources
        assert "<script>window.__xss_title=1</script>" in sources
        injected = browser.execute_script(
            "return [window.__xss, window.__xss_title,"
            " document.querySelectorAll('#rag-chat img[src=\"x\"], #rag-sources img, #rag-sources script').length]"
        )
        assert injected == [None, None, 0]
        screenshot(browser, "ui-xss.png")
        browser.get("about:blank")
