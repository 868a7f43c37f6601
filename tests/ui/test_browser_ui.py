"""The Gradio UI in headless Chromium: ask, read the cited passage, feedback, refusal, XSS,
stop and typing during a stream, history across a reload, the admin tab."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webdriver import WebDriver
from selenium.webdriver.support.ui import WebDriverWait
from tests.ui.fakes import SlowService, answer, citation, passage
from tests.ui.ui_support import XSS_QUESTION, screenshot

from rag.config import Settings
from rag.server import build_app, running_server
from rag.service import RagService
from ui.mount import mount_ui
from ui.render import STOPPED_NOTICE

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ANSWER_TIMEOUT = 90  # extractive answers take ~1-3 s; generous for a loaded 2-core machine
DONE = "#rag-chat .rag-answer:not(.rag-streaming)"


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
    """Forget the stored conversation and close the page's connections (no shutdown noise)."""
    yield
    if browser.current_url.startswith("http"):
        browser.execute_script("window.localStorage.clear()")
    browser.get("about:blank")


def open_ui(browser: WebDriver, url: str) -> None:
    browser.get(f"{url}/")
    WebDriverWait(browser, 60).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-question textarea"))


def ask(browser: WebDriver, question: str) -> None:
    before = len(browser.find_elements(By.CSS_SELECTOR, DONE))
    box = browser.find_element(By.CSS_SELECTOR, "#rag-question textarea")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, ANSWER_TIMEOUT).until(lambda d: len(d.find_elements(By.CSS_SELECTOR, DONE)) > before)


def visible(browser: WebDriver, element_id: str) -> bool:
    # In one script: Gradio re-renders buttons when their visibility changes (stale elements).
    return browser.execute_script(
        "var e = document.getElementById(arguments[0]); return !!e && e.offsetParent !== null", element_id
    )


def test_question_answer_and_citation_passage(browser: WebDriver, ui_url: str) -> None:
    open_ui(browser, ui_url)
    assert browser.current_url.endswith("/ui/")
    # What the knowledge base holds, and example questions drawn from its titles.
    overview = WebDriverWait(browser, 30).until(
        lambda d: (text := d.find_element(By.ID, "rag-overview").text) and "知识库共" in text and text
    )
    assert "5 个文件" in overview and "89 篇文章" in overview and "最近更新" in overview
    example = browser.find_element(By.CSS_SELECTOR, "#rag-example-0")
    assert example.text.endswith("讲了什么？") or example.text.endswith("？")
    example.click()
    box = browser.find_element(By.CSS_SELECTOR, "#rag-question textarea")
    WebDriverWait(browser, 10).until(lambda d: box.get_attribute("value") == example.text)
    box.clear()
    assert "右侧" not in browser.find_element(By.TAG_NAME, "body").text  # on a phone the panel is below
    screenshot(browser, "ui-overview.png")

    ask(browser, "黑石BXPE基金的管理费是多少？")
    answer_el = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1]
    assert "1.25%" in answer_el.text
    link = answer_el.find_element(By.CSS_SELECTOR, "a.rag-cite")
    assert link.text == "[1]"
    # Cited passages are marked, the other retrieved ones dimmed.
    cited = browser.find_element(By.CSS_SELECTOR, "#rag-sources .rag-cited")
    uncited = browser.find_elements(By.CSS_SELECTOR, "#rag-sources .rag-uncited")
    assert cited.get_attribute("id") == "src-0-1" and uncited
    assert float(uncited[0].value_of_css_property("opacity")) < 0.8
    screenshot(browser, "ui-answer.png")

    # Collapse the passage first, so the click has something to do.
    browser.execute_script("document.getElementById('src-0-1').open = false")
    link.click()
    passage_el = browser.find_element(By.ID, "src-0-1")
    WebDriverWait(browser, 5).until(lambda d: passage_el.get_attribute("open") is not None)
    mark = passage_el.find_element(By.TAG_NAME, "mark")
    assert "1.25%的管理费" in mark.text
    assert mark.is_displayed()
    assert "美国大型PE调降管理费" in passage_el.find_element(By.TAG_NAME, "summary").text
    assert ".txt" in passage_el.find_element(By.CSS_SELECTOR, ".rag-meta").text
    assert browser.current_url.endswith("/ui/")  # the link scrolled, it did not navigate
    screenshot(browser, "ui-citation.png")

    # The conversation survives a reload; regenerate answers the last question in its place.
    browser.refresh()
    WebDriverWait(browser, 60).until(lambda d: "1.25%" in d.find_element(By.ID, "rag-chat").text)
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources #src-0-1")
    browser.execute_script("document.querySelector(arguments[0]).setAttribute('data-old', '1')", DONE)
    browser.find_element(By.ID, "rag-regenerate").click()
    WebDriverWait(browser, ANSWER_TIMEOUT).until(  # a new bubble in place of the old one
        lambda d: visible(d, "rag-send") and d.find_elements(By.CSS_SELECTOR, DONE + ":not([data-old])")
    )
    assert len(browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")) == 1
    assert "1.25%" in browser.find_element(By.ID, "rag-chat").text
    screenshot(browser, "ui-reloaded.png")


def test_refusal_feedback_and_new_conversation(browser: WebDriver, ui_url: str, runtime_dir: Path) -> None:
    open_ui(browser, ui_url)
    ask(browser, "火星上有几只猫？")
    refusal = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-refusal")[-1]
    assert "没有找到" in refusal.text and "可能相关的资料" in refusal.text
    titles = [li.text for li in refusal.find_elements(By.TAG_NAME, "li")]
    assert titles and len(titles) == len(set(titles))  # each title once
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources [id^='rel-0-']")
    screenshot(browser, "ui-refusal.png")

    ask(browser, "2023年中国汽车出口了多少辆？")
    assert "491万辆" in browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1].text
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources #src-1-1")
    assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources [id^='rel-0-']")  # earlier turn kept
    ask(browser, "黑石BXPE基金的管理费是多少？")

    # Scrolled to the end, nothing of the chat's own is drawn over the messages
    # (Gradio's floating "对话" label covered them); the heading sits above the box.
    browser.execute_script("var c = document.querySelector('#rag-chat [role=log], #rag-chat .bubble-wrap');"
                           "if (c) c.scrollTop = c.scrollHeight;")
    inside = browser.execute_script(
        "return Array.from(document.querySelectorAll('#rag-chat *')).filter(function (e) {"
        "  return e.children.length === 0 && e.textContent.trim() === '对话' && e.offsetParent !== null; }).length"
    )
    assert inside == 0
    heading = browser.find_element(By.ID, "rag-chat-heading").rect
    chat = browser.find_element(By.ID, "rag-chat").rect
    assert heading["y"] + heading["height"] <= chat["y"] + 1
    screenshot(browser, "ui-scrolled.png")

    browser.find_elements(By.CSS_SELECTOR, "#rag-chat button[aria-label='Like']")[1].click()
    feedback = runtime_dir / "feedback.jsonl"
    WebDriverWait(browser, 20).until(lambda d: feedback.exists() and feedback.read_text(encoding="utf-8").strip())
    row = json.loads(feedback.read_text(encoding="utf-8").splitlines()[-1])
    assert row["rating"] == "up" and row["question"] == "2023年中国汽车出口了多少辆？"
    assert "491万辆" in row["answer"] and row["citations"]

    browser.find_element(By.ID, "rag-clear").click()
    WebDriverWait(browser, 10).until(lambda d: not d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer"))
    assert "提问后" in browser.find_element(By.ID, "rag-sources").text
    browser.refresh()  # the new conversation is what the browser keeps
    open_ui(browser, ui_url)
    assert not browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")


def test_a_streaming_answer_shows_sources_first_keeps_typing_and_stops(
    browser: WebDriver, tmp_path: Path
) -> None:
    """Issue 13, defect 8 and the early sources: while the answer streams, the send button
    gives way to 停止, what the user types stays in the box (a second Enter is not taken),
    the retrieved passages are shown before any token, and 停止 closes the answer stream."""
    other = passage("检索到但未被引用的段落。", chunk_id="p2", title="另一篇文章")
    svc = SlowService(tokens=tuple("能量密度为四百二十瓦时"), sources=[citation(), other], delay=0.6)
    svc.result = answer(retrieved=[citation(), other])
    settings = Settings(_env_file=None, mode="extractive", data_dir=tmp_path)
    with running_server(mount_ui(FastAPI(), lambda: svc, settings)) as url:
        open_ui(browser, url)
        box = browser.find_element(By.CSS_SELECTOR, "#rag-question textarea")
        box.send_keys("电池的能量密度？")
        box.send_keys(Keys.ENTER)
        WebDriverWait(browser, 20).until(lambda d: "已检索到 2 个段落" in d.find_element(By.ID, "rag-sources").text)
        assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources #ret-0-1")
        WebDriverWait(browser, 20).until(lambda d: visible(d, "rag-stop") and not visible(d, "rag-send"))
        assert "正在回答" in box.get_attribute("placeholder")

        box.send_keys("第二个问题")
        box.send_keys(Keys.ENTER)  # ignored while the answer streams, and not wiped
        WebDriverWait(browser, 20).until(lambda d: d.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-streaming"))
        screenshot(browser, "ui-streaming.png")
        browser.find_element(By.ID, "rag-stop").click()
        WebDriverWait(browser, 20).until(lambda d: STOPPED_NOTICE in d.find_element(By.ID, "rag-chat").text)
        WebDriverWait(browser, 10).until(lambda d: visible(d, "rag-send") and not visible(d, "rag-stop"))
        assert box.get_attribute("value") == "第二个问题"
        assert browser.find_elements(By.CSS_SELECTOR, "#rag-sources #ret-0-1")  # the sources stay listed
        assert len(svc.calls) == 1
        # The service's stream is closed (Gradio closes the generator once its current step returns).
        WebDriverWait(browser, 10).until(lambda d: svc.closed == 1)
        assert len(browser.find_elements(By.CSS_SELECTOR, "#rag-chat .message-row, #rag-chat .message")) >= 2
        screenshot(browser, "ui-stopped.png")

        svc.delay = 0.0
        box.send_keys(Keys.ENTER)  # the kept question is sent now
        WebDriverWait(browser, 30).until(lambda d: "rag-cite" in d.find_element(By.ID, "rag-chat").get_attribute("innerHTML"))
        assert svc.calls[-1]["question"] == "第二个问题"
        # The stopped turn's partial text is never sent back as history.
        assert svc.calls[-1]["history"] == [{"role": "user", "content": "电池的能量密度？"}, {"role": "assistant", "content": ""}]
        browser.execute_script("window.localStorage.clear()")
        browser.get("about:blank")


def test_admin_tab_lists_titles_and_survives_a_png(browser: WebDriver, small_service: RagService, tmp_path: Path) -> None:
    """Issue 13, defect 9: a .png is refused with a Chinese message and no Error badges; a
    two-sentence .md is indexed; an empty file is listed with its reason and removed."""
    settings = small_service.settings.model_copy(update={"mode": "extractive", "data_dir": small_service.settings.data_dir})
    with running_server(build_app(settings, service=small_service)) as url:
        open_ui(browser, url)
        tab = browser.find_element(By.XPATH, "//button[@role='tab' and contains(., '管理')]")
        browser.execute_script("arguments[0].click()", tab)  # the page may still be shifting as it loads
        WebDriverWait(browser, 30).until(lambda d: "news.jsonl" in d.find_element(By.ID, "rag-files").text)
        table = browser.find_element(By.ID, "rag-files").text
        assert "已索引" in table and "青川县茶叶产业" in table  # the file's article titles
        body = browser.find_element(By.TAG_NAME, "body").text
        assert "Drop File Here" not in body and "Click to Upload" not in body

        png = tmp_path / "photo.png"
        png.write_bytes(b"\x89PNG\r\n\x1a\n" + b"\0" * 64)
        upload = browser.find_element(By.CSS_SELECTOR, "#rag-upload-btn input[type=file], input[type=file]")
        upload.send_keys(str(png))
        status = browser.find_element(By.CSS_SELECTOR, "#rag-admin-status textarea")
        WebDriverWait(browser, 30).until(lambda d: "不支持的文件类型" in status.get_attribute("value"))
        assert "photo.png" in status.get_attribute("value")
        # No red "Error" badge on any component; the toast's title reads in Chinese.
        badges = browser.execute_script(
            "return Array.from(document.querySelectorAll('.error:not(.toast-body *)')).map(e => e.textContent.trim())"
        )
        assert "Error" not in badges, badges
        shown = browser.execute_script(
            "return Array.from(document.querySelectorAll('.toast-title')).map(function (e) {"
            "  var s = getComputedStyle(e); return [s.fontSize, getComputedStyle(e, '::before').content]; })"
        )
        assert shown and all(size == "0px" and label == '"提示"' for size, label in shown), shown
        screenshot(browser, "ui-admin-png.png")

        note = tmp_path / "tea-note.md"
        note.write_text("# 青川县茶园\n\n青川县今年新建茶园三千亩。茶园由当地合作社统一管理。\n", encoding="utf-8")
        empty = tmp_path / "blank.txt"
        empty.write_text("   \n", encoding="utf-8")
        upload = browser.find_element(By.CSS_SELECTOR, "#rag-upload-btn input[type=file], input[type=file]")
        browser.execute_script("arguments[0].value = ''", upload)  # not the .png again
        upload.send_keys(f"{note}\n{empty}")
        WebDriverWait(browser, ANSWER_TIMEOUT).until(lambda d: "完成：" in status.get_attribute("value"))
        WebDriverWait(browser, 20).until(lambda d: "tea-note.md" in d.find_element(By.ID, "rag-files").text)
        table = browser.find_element(By.ID, "rag-files").text
        assert "青川县茶园" in table and "blank.txt" in table and "文件是空的" in table
        assert "跳过 blank.txt" in status.get_attribute("value")
        screenshot(browser, "ui-admin.png")

        choice = browser.find_element(By.CSS_SELECTOR, "#rag-remove-choice input")
        choice.click()
        choice.send_keys("blank.txt")
        choice.send_keys(Keys.ENTER)
        WebDriverWait(browser, 10).until(lambda d: choice.get_attribute("value") == "blank.txt")
        browser.find_element(By.ID, "rag-remove").click()
        WebDriverWait(browser, ANSWER_TIMEOUT).until(lambda d: "已删除：blank.txt" in status.get_attribute("value"))
        assert "blank.txt" not in browser.find_element(By.ID, "rag-files").text
        assert not (small_service.documents.upload_dir / "blank.txt").exists()
        browser.get("about:blank")
        small_service.documents.remove("tea-note.md")  # leave the shared small corpus as it was


def test_document_markup_renders_as_text(browser: WebDriver, small_service: RagService, tmp_path: Path) -> None:
    settings = small_service.settings.model_copy(update={"mode": "extractive", "data_dir": tmp_path})
    with running_server(build_app(settings, service=small_service)) as url:
        open_ui(browser, url)
        ask(browser, XSS_QUESTION)
        browser.find_elements(By.CSS_SELECTOR, "#rag-chat a.rag-cite")[-1].click()
        answer_el = browser.find_elements(By.CSS_SELECTOR, "#rag-chat .rag-answer")[-1]
        assert '<img src=x onerror="window.__xss=1">' in answer_el.text
        sources = browser.find_element(By.ID, "rag-sources").text
        assert "<script>window.__xss=2</script>" in sources
        assert "<script>window.__xss_title=1</script>" in sources
        # Reloaded from browser storage, the markup is still text.
        browser.refresh()
        WebDriverWait(browser, 60).until(lambda d: "window.__xss=1" in d.find_element(By.ID, "rag-chat").text)
        injected = browser.execute_script(
            "return [window.__xss, window.__xss_title,"
            " document.querySelectorAll('#rag-chat img[src=\"x\"], #rag-sources img, #rag-sources script').length]"
        )
        assert injected == [None, None, 0]
        screenshot(browser, "ui-xss.png")
        browser.execute_script("window.localStorage.clear()")
        browser.get("about:blank")
