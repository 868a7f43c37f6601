"""The embeddable widget in headless Chromium, on a host page served from another origin."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support.ui import WebDriverWait
from tests.ui.ui_support import XSS_QUESTION, screenshot, static_site, write_host_page

from rag.server import build_app, running_server
from rag.service import RagService

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT = 90
STATIC_DIR = Path(str(resources.files("ui") / "static"))


@pytest.fixture(scope="module")
def host_site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, Path]]:
    """A plain http.server on its own port: a different origin from the API."""
    folder = tmp_path_factory.mktemp("host")
    with static_site(folder) as url:
        yield url, folder


@pytest.fixture(scope="module")
def api_url(service: RagService, host_site: tuple[str, Path]) -> Iterator[str]:
    settings = service.settings.model_copy(update={"cors_origins": [host_site[0]], "api_token": ""})
    with running_server(build_app(settings, service=service, ui=False)) as url:
        yield url


@pytest.fixture(autouse=True)
def leave_page(browser: WebDriver) -> Iterator[None]:
    yield
    browser.get("about:blank")


def widget_root(browser: WebDriver) -> WebElement:
    host = WebDriverWait(browser, 30).until(lambda d: d.find_element(By.CSS_SELECTOR, "rag-chat-widget"))
    return host.shadow_root


def ask(browser: WebDriver, root, question: str) -> WebElement:
    done = len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state]"))
    box = root.find_element(By.CSS_SELECTOR, "textarea")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, ANSWER_TIMEOUT).until(
        lambda d: len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state]")) > done
    )
    return root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state]")[-1]


def test_widget_on_another_origin_answers_with_citations(
    browser: WebDriver, api_url: str, host_site: tuple[str, Path]
) -> None:
    url, folder = host_site
    write_host_page(folder, api_url)
    browser.get(f"{url}/index.html")
    root = widget_root(browser)
    panel = root.find_element(By.CSS_SELECTOR, ".panel")
    assert not panel.is_displayed()
    root.find_element(By.CSS_SELECTOR, ".bubble").click()
    assert panel.is_displayed()
    assert root.find_element(By.CSS_SELECTOR, "header .title").text == "知识库助手"

    reply = ask(browser, root, "2023年中国汽车出口了多少辆？")
    assert reply.get_attribute("data-state") == "done", reply.text
    assert "491万辆" in reply.text
    cite = reply.find_element(By.CSS_SELECTOR, ".cite")
    assert cite.text == "[1]"
    assert "[1]" in reply.find_element(By.CSS_SELECTOR, ".sources").text
    screenshot(browser, "widget-answer.png")

    cite.click()
    passage = reply.find_element(By.CSS_SELECTOR, ".passage")
    assert passage.is_displayed()
    assert "491万辆" in passage.find_element(By.TAG_NAME, "mark").text
    assert ".txt" in passage.find_element(By.CSS_SELECTOR, ".meta").text
    screenshot(browser, "widget-citation.png")

    # The page's own "* { color: #c00; font-family: serif }" stays on the page only.
    assert browser.find_element(By.ID, "host-title").value_of_css_property("color") == "rgba(204, 0, 0, 1)"
    assert "serif" != reply.value_of_css_property("font-family").split(",")[0].strip('"')
    assert reply.value_of_css_property("color") != "rgba(204, 0, 0, 1)"
    assert (
        root.find_element(By.CSS_SELECTOR, ".bubble").value_of_css_property("background-color")
        == "rgba(37, 99, 235, 1)"
    )


def test_widget_follow_up_and_refusal(browser: WebDriver, api_url: str, host_site: tuple[str, Path]) -> None:
    url, folder = host_site
    write_host_page(folder, api_url, extra=' data-open="true"')
    browser.get(f"{url}/index.html")
    root = widget_root(browser)
    assert root.find_element(By.CSS_SELECTOR, ".panel").is_displayed()
    reply = ask(browser, root, "火星上有几只猫？请根据资料回答。")
    assert "没有找到" in reply.text and "可能相关的资料" in reply.text
    reply.find_element(By.CSS_SELECTOR, ".source").click()
    assert reply.find_element(By.CSS_SELECTOR, ".passage").is_displayed()

    reply = ask(browser, root, "黑石BXPE基金的管理费是多少？")
    assert "1.25%" in reply.text and reply.find_elements(By.CSS_SELECTOR, ".cite")
    root.find_element(By.CSS_SELECTOR, "header .clear").click()
    assert len(root.find_elements(By.CSS_SELECTOR, ".msg")) == 1  # only the greeting


def test_embed_page_is_a_full_page_chat(browser: WebDriver, api_url: str) -> None:
    browser.get(f"{api_url}/embed?title=测试助手&mode=extractive")
    root = widget_root(browser)
    assert not root.find_elements(By.CSS_SELECTOR, ".bubble")
    assert root.find_element(By.CSS_SELECTOR, "header .title").text == "测试助手"
    reply = ask(browser, root, "黑石BXPE基金的管理费是多少？")
    assert "1.25%" in reply.text
    reply.find_element(By.CSS_SELECTOR, ".cite").click()
    assert "1.25%" in reply.find_element(By.CSS_SELECTOR, ".passage mark").text
    screenshot(browser, "embed.png")


def test_origin_not_in_the_allow_list_gets_an_error_message(browser: WebDriver, api_url: str, tmp_path: Path) -> None:
    with static_site(tmp_path) as other_origin:
        write_host_page(tmp_path, api_url, extra=' data-open="true"')
        browser.get(f"{other_origin}/index.html")
        reply = ask(browser, widget_root(browser), "黑石BXPE基金的管理费是多少？")
        assert reply.get_attribute("data-state") == "error"
        assert "出错了" in reply.text
        browser.get("about:blank")


def test_widget_shows_document_markup_as_text(browser: WebDriver, small_service: RagService, tmp_path: Path) -> None:
    with static_site(tmp_path) as host:
        settings = small_service.settings.model_copy(update={"cors_origins": [host]})
        with running_server(build_app(settings, service=small_service, ui=False)) as api:
            write_host_page(tmp_path, api, extra=' data-open="true"')
            browser.get(f"{host}/index.html")
            root = widget_root(browser)
            reply = ask(browser, root, XSS_QUESTION)
            reply.find_element(By.CSS_SELECTOR, ".cite").click()
            passage = reply.find_element(By.CSS_SELECTOR, ".passage")
            assert '<img src=x onerror="window.__xss=1">' in reply.find_element(By.CSS_SELECTOR, ".answer").text
            assert "<script>window.__xss=2</script>" in passage.text
            assert "<script>window.__xss_title=1</script>" in passage.text
            injected = browser.execute_script(
                "var root = document.querySelector('rag-chat-widget').shadowRoot;"
                "return [window.__xss, window.__xss_title, root.querySelectorAll('img, script').length]"
            )
            assert injected == [None, None, 0]
            screenshot(browser, "widget-xss.png")
            browser.get("about:blank")


def test_widget_sends_its_token_as_bearer(browser: WebDriver, service: RagService, tmp_path: Path) -> None:
    with static_site(tmp_path) as host:
        settings = service.settings.model_copy(update={"cors_origins": [host], "api_token": "w1dget"})
        with running_server(build_app(settings, service=service, ui=False)) as api:
            write_host_page(tmp_path, api, extra=' data-open="true" data-token="w1dget"')
            browser.get(f"{host}/index.html")
            reply = ask(browser, widget_root(browser), "黑石BXPE基金的管理费是多少？")
            assert reply.get_attribute("data-state") == "done" and "1.25%" in reply.text

            # A page of its own: a cached index.html would still carry the right token.
            write_host_page(tmp_path, api, extra=' data-open="true" data-token="wrong"', name="wrong.html")
            browser.get(f"{host}/wrong.html")
            reply = ask(browser, widget_root(browser), "黑石BXPE基金的管理费是多少？")
            assert reply.get_attribute("data-state") == "error" and "令牌" in reply.text
            browser.get("about:blank")


@pytest.mark.llm
def test_widget_streams_llm_tokens(
    browser: WebDriver, request: pytest.FixtureRequest, index_dir: Path, tmp_path: Path
) -> None:
    """With the real (0.5B) LLM the answer grows token by token before the checked answer replaces it."""
    try:
        llm_settings = request.getfixturevalue("llm_settings")
    except pytest.FixtureLookupError:
        pytest.skip("no `llm_settings`/`llm_server` fixture (local LLM server) in tests/conftest.py")
    llm_service = RagService(settings=llm_settings, index_dir=index_dir)
    with static_site(tmp_path) as host:
        settings = llm_settings.model_copy(update={"cors_origins": [host]})
        with running_server(build_app(settings, service=llm_service, ui=False)) as api:
            write_host_page(tmp_path, api, extra=' data-open="true"')
            (tmp_path / "index.html").write_text(
                (tmp_path / "index.html")
                .read_text(encoding="utf-8")
                .replace('data-mode="extractive"', 'data-mode="local"'),
                encoding="utf-8",
            )
            browser.get(f"{host}/index.html")
            root = widget_root(browser)
            # Record every text the reply shows while it streams.
            browser.execute_script(
                "window.__texts = [];"
                "var box = document.querySelector('rag-chat-widget').shadowRoot.querySelector('.messages');"
                "new MutationObserver(function () {"
                "  var last = box.lastElementChild; if (last) window.__texts.push(last.textContent);"
                "}).observe(box, {childList: true, subtree: true, characterData: true});"
            )
            reply = ask(browser, root, "2023年中国汽车出口了多少辆？")
            assert reply.get_attribute("data-state") == "done", reply.text
            texts = [t for t in browser.execute_script("return window.__texts") if t and "正在检索" not in t]
            partial = {t for t in texts if t != reply.text}
            assert len(partial) >= 2, texts  # grew in several steps, not in one final swap
            assert reply.find_elements(By.CSS_SELECTOR, ".cite") or "没有找到" in reply.text
            browser.get("about:blank")


def test_widget_marks_the_server_spans_counting_characters(browser: WebDriver, tmp_path: Path) -> None:
    """The widget marks exactly ``highlight_spans``; offsets count characters even past an
    astral one (two UTF-16 units in JS), and the marked text stays text."""
    text = "𠀀字开头。<b>能量</b>密度为420瓦时。结尾。"
    start = text.index("<b>")
    final = {
        "type": "final",
        "result": {
            "answer": "密度为420瓦时[1]。",
            "refused": False,
            "notice": None,
            "related": [],
            "citations": [
                {
                    "n": 1,
                    "text": text,
                    "file": "a.txt",
                    "title": "标题",
                    "section": "",
                    "score": 0.9,
                    "chunk_id": "c",
                    "highlight": text[start:-3],
                    "highlight_spans": [[start, len(text) - 3]],
                }
            ],
        },
    }
    (tmp_path / "stream.sse").write_text(f"event: final\ndata: {json.dumps(final, ensure_ascii=False)}\n\n", encoding="utf-8")
    shutil.copy(STATIC_DIR / "widget.js", tmp_path / "widget.js")
    with static_site(tmp_path, stub_stream=True) as site:
        write_host_page(tmp_path, site, extra=' data-open="true"')
        browser.get(f"{site}/index.html")
        reply = ask(browser, widget_root(browser), "能量密度？")
        reply.find_element(By.CSS_SELECTOR, ".cite").click()
        marks = reply.find_elements(By.CSS_SELECTOR, ".passage mark")
        assert [m.text for m in marks] == ["<b>能量</b>密度为420瓦时。"]
        browser.get("about:blank")
