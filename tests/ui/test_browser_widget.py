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
    """Forget the stored conversation (localStorage of the host page's origin), leave the page."""
    yield
    if browser.current_url.startswith("http"):
        browser.execute_script("window.localStorage.clear(); window.sessionStorage.clear()")
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
    browser: WebDriver, api_url: str, host_site: tuple[str, Path], service: RagService
) -> None:
    url, folder = host_site
    feedback_file = Path(service.settings.data_dir) / "feedback.jsonl"
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
    # Each source names its file and section; the retrieved passages not cited are dimmed.
    cited = reply.find_element(By.CSS_SELECTOR, ".source.cited")
    assert ".txt" in cited.find_element(By.CSS_SELECTOR, ".where").text
    uncited = reply.find_elements(By.CSS_SELECTOR, ".source.uncited")
    assert uncited and float(uncited[0].value_of_css_property("opacity")) < 0.8
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

    # Copy puts the answer and its sources on the clipboard (127.0.0.1 is a secure
    # context: navigator.clipboard, recorded here instead of touching the real clipboard).
    browser.execute_script(
        "window.__copied = null; navigator.clipboard.writeText = function (t) {"
        "  window.__copied = t; return Promise.resolve(); };"
    )
    reply.find_element(By.CSS_SELECTOR, ".actions .copy").click()
    WebDriverWait(browser, 5).until(lambda d: d.execute_script("return window.__copied"))
    copied = browser.execute_script("return window.__copied")
    WebDriverWait(browser, 5).until(lambda d: reply.find_element(By.CSS_SELECTOR, ".actions .copy").text == "已复制")
    assert "491万辆" in copied and "来源：" in copied and "[1]" in copied

    # 👎 with a comment goes to POST /api/feedback with the question, answer and citations.
    reply.find_element(By.CSS_SELECTOR, ".actions .rate.down").click()
    reply.find_element(By.CSS_SELECTOR, ".fb textarea").send_keys("数字对，但想看月度数据")
    reply.find_element(By.CSS_SELECTOR, ".fb .submit").click()
    WebDriverWait(browser, 20).until(lambda d: reply.find_elements(By.CSS_SELECTOR, ".fb[data-state='sent']"))
    assert "感谢反馈" in reply.text
    rows = [json.loads(line) for line in feedback_file.read_text(encoding="utf-8").splitlines()]
    row = rows[-1]
    assert row["rating"] == "down" and row["comment"] == "数字对，但想看月度数据" and row["source"] == "widget"
    assert row["question"] == "2023年中国汽车出口了多少辆？" and "491万辆" in row["answer"]
    assert row["citations"][0]["n"] == 1 and row["index_version"]
    screenshot(browser, "widget-feedback.png")


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

    # The conversation survives a reload; regenerate replaces the last answer.
    browser.refresh()
    root = widget_root(browser)
    WebDriverWait(browser, 10).until(lambda d: len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state]")) == 2)
    assert "1.25%" in root.find_element(By.CSS_SELECTOR, ".messages").text
    regen = [b for b in root.find_elements(By.CSS_SELECTOR, ".regen") if b.is_displayed()]
    assert len(regen) == 1  # only the last answer
    regen[0].click()
    WebDriverWait(browser, ANSWER_TIMEOUT).until(
        lambda d: len(root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state='done']")) == 2
        and not root.find_element(By.CSS_SELECTOR, ".stop").is_displayed()
    )
    assert len(root.find_elements(By.CSS_SELECTOR, ".msg.user")) == 2

    root.find_element(By.CSS_SELECTOR, "header .clear").click()  # 新对话
    assert root.find_element(By.CSS_SELECTOR, "header .clear").text == "新对话"
    assert len(root.find_elements(By.CSS_SELECTOR, ".msg")) == 1  # only the greeting
    browser.refresh()
    assert len(widget_root(browser).find_elements(By.CSS_SELECTOR, ".msg")) == 1


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
        assert "出错了" in reply.text and "RAG_CORS_ORIGINS" in reply.text and other_origin in reply.text
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


def stub_answer(folder: Path, tokens: list[str], delay: float) -> None:
    """A stub stream: the retrieved passages, tokens ``delay`` s apart, then a checked answer."""
    passages = [
        {"text": "星海科技的新电池能量密度为420瓦时。", "file": "news.jsonl", "title": "星海科技新电池",
         "section": "科技", "score": 0.9, "chunk_id": "a"},
        {"text": "另一篇文章。", "file": "other.txt", "title": "另一篇", "section": "", "score": 0.2, "chunk_id": "b"},
    ]
    cited = {**passages[0], "n": 1, "highlight": passages[0]["text"], "highlight_spans": [[0, 18]]}
    final = {"answer": "能量密度为420瓦时[1]。", "refused": False, "notice": None, "related": [],
             "citations": [cited], "retrieved": passages, "mode": "local"}
    frames = [{"type": "sources", "passages": passages}]
    frames += [{"type": "token", "text": t} for t in tokens]
    frames.append({"type": "final", "result": final})
    (folder / "stream.sse").write_text(
        "".join(f"event: {f['type']}\ndata: {json.dumps(f, ensure_ascii=False)}\n\n" for f in frames), encoding="utf-8"
    )
    (folder / "stream.delay").write_text(str(delay))


def test_widget_queues_a_question_sent_while_streaming_and_stops(browser: WebDriver, tmp_path: Path) -> None:
    """Issue 13, defect 8 in the widget: the sources show before the first token; a question
    sent meanwhile is queued (shown, never dropped) and asked next; 停止 aborts the request."""
    shutil.copy(STATIC_DIR / "widget.js", tmp_path / "widget.js")
    stub_answer(tmp_path, list("能量密度为四百二十瓦时"), delay=0.5)
    with static_site(tmp_path, stub_stream=True) as site:
        write_host_page(tmp_path, site, extra=' data-open="true"')
        browser.get(f"{site}/index.html")
        root = widget_root(browser)
        box = root.find_element(By.CSS_SELECTOR, "textarea")
        box.send_keys("能量密度？")
        box.send_keys(Keys.ENTER)
        pending = WebDriverWait(browser, 10).until(lambda d: root.find_element(By.CSS_SELECTOR, ".sources.pending"))
        assert "已检索到 2 个段落" in pending.text and "news.jsonl · 科技" in pending.text
        assert root.find_element(By.CSS_SELECTOR, ".stop").is_displayed()

        box.send_keys("第二个问题")
        box.send_keys(Keys.ENTER)
        queued = root.find_element(By.CSS_SELECTOR, ".msg.user[data-queued]")
        assert "第二个问题" in queued.text and "排队中" in queued.text
        WebDriverWait(browser, 10).until(lambda d: root.find_elements(By.CSS_SELECTOR, ".answer.streaming"))
        screenshot(browser, "widget-streaming.png")

        root.find_element(By.CSS_SELECTOR, ".stop").click()
        stopped = WebDriverWait(browser, 10).until(
            lambda d: root.find_element(By.CSS_SELECTOR, ".msg.assistant[data-state='stopped']")
        )
        assert "已停止生成" in stopped.text
        WebDriverWait(browser, 10).until(lambda d: (tmp_path / "stream.aborted").exists())  # the request was dropped
        (tmp_path / "stream.delay").write_text("0.05")
        # The queued question is asked next, on its own.
        WebDriverWait(browser, 30).until(lambda d: root.find_elements(By.CSS_SELECTOR, ".msg.assistant[data-state='done']"))
        assert "排队中" not in root.find_element(By.CSS_SELECTOR, ".messages").text
        users = [m.text for m in root.find_elements(By.CSS_SELECTOR, ".msg.user")]
        assert users == ["能量密度？", "第二个问题"]
        done = root.find_element(By.CSS_SELECTOR, ".msg.assistant[data-state='done']")
        assert done.find_elements(By.CSS_SELECTOR, ".cite") and done.find_elements(By.CSS_SELECTOR, ".source.uncited")
        screenshot(browser, "widget-stopped.png")
        browser.execute_script("window.localStorage.clear()")
        browser.get("about:blank")


def test_mobile_widget_fits_the_screen_on_a_wide_page(browser: WebDriver, tmp_path: Path) -> None:
    """Issue 13, defect 10: a phone (390 px) showing a page 1400 px wide: 关闭 and 发送 are on screen."""
    shutil.copy(STATIC_DIR / "widget.js", tmp_path / "widget.js")
    stub_answer(tmp_path, [], delay=0)
    with static_site(tmp_path, stub_stream=True) as site:
        write_host_page(tmp_path, site)
        page = (tmp_path / "index.html").read_text(encoding="utf-8")
        wide = '<meta name="viewport" content="width=device-width, initial-scale=1"></head>'
        page = page.replace("</head>", wide).replace("<body>", '<body><div style="width:1400px;height:40px">宽内容</div>')
        (tmp_path / "wide.html").write_text(page, encoding="utf-8")
        browser.execute_cdp_cmd(
            "Emulation.setDeviceMetricsOverride", {"width": 390, "height": 780, "deviceScaleFactor": 2, "mobile": True}
        )
        try:
            browser.get(f"{site}/wide.html")
            root = widget_root(browser)
            root.find_element(By.CSS_SELECTOR, ".bubble").click()
            view = browser.execute_script(
                "var v = window.visualViewport; return [v.offsetLeft, v.offsetTop, v.width, v.height]"
            )
            for selector in ("header .close", "form .send", "textarea"):
                rect = browser.execute_script(
                    "var r = arguments[0].getBoundingClientRect(); return [r.left, r.top, r.right, r.bottom]",
                    root.find_element(By.CSS_SELECTOR, selector),
                )
                left, top, width, height = view
                assert rect[0] >= left - 1 and rect[2] <= left + width + 1, (selector, rect, view)
                assert rect[1] >= top - 1 and rect[3] <= top + height + 1, (selector, rect, view)
            screenshot(browser, "widget-mobile.png")
        finally:
            browser.execute_cdp_cmd("Emulation.clearDeviceMetricsOverride", {})
            browser.get("about:blank")
