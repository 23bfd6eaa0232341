"""Watched questions in the web chat (issue 42), in headless Chromium against the real server
(hash embedder, on ``corpus/``): a question is watched from under its answer, an article that
answers it is added, and the unread mark comes live (the event stream); the notice opens with its
cited article, and another browser sees none of it."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support import HASH_ABSTAIN_THRESHOLD, REPO, hash_env, local_server
from tests.web.chat import BROWSER_MARKS, ask, console_watch

pytestmark = BROWSER_MARKS

QUESTION = "What did the Quillmoor harbour council decide about the night ferry?"
ARTICLE = {
    "title": "Quillmoor harbour council approves a night ferry across the bay",
    "text": (
        "The Quillmoor harbour council decided on Tuesday to run a night ferry across the bay. "
        "The night ferry will sail every hour from the old pier, the Quillmoor harbour council "
        "said. Councillors voted seven to two for the night ferry, which starts in May."
    ),
    "url": "https://harbour.example.com/quillmoor-night-ferry",
    "source": "harbour.example.com",
    "published_at": "2024-03-05",
}
#: Where the picture of the watch list goes when ``NEWSQA_WATCH_SHOT`` names a file (the README's
#: docs/watching.png is made so); else only under the test's temporary directory.
SHOT_ENV = "NEWSQA_WATCH_SHOT"


@pytest.fixture(scope="module")
def watch_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A server of its own (this module adds articles), on the hash embedder: a new article that
    shares the question's words matches it (a low match threshold)."""
    index = tmp_path_factory.mktemp("watch-ui") / "index"
    env = hash_env(watch__match_threshold="0.1",
                   composition__abstain_threshold=str(HASH_ABSTAIN_THRESHOLD))
    with local_server(index, [str(REPO / "corpus")], limit=120, env=env) as url:
        yield url


def _watches(server: str, client: str) -> list[dict[str, Any]]:
    r = httpx.get(f"{server}/api/watches", headers={"X-Newsqa-Client": client}, timeout=30)
    assert r.status_code == 200, r.text
    return list(r.json()["watches"])


def test_watch_a_question_and_hear_of_a_new_article(
    watch_server: str, browser: Any, tmp_path: Path
) -> None:
    server = watch_server
    ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    page = ctx.new_page()
    errors = console_watch(page)
    page.goto(server + "/")
    page.wait_for_selector("#watch-toggle:not([hidden])")
    client = page.evaluate("window.NewsqaWatch.client")
    assert 16 <= len(client) <= 64
    assert page.evaluate("localStorage.getItem('newsqa-client')") == client
    assert {"name": "newsqa_client", "value": client} in [
        {"name": c["name"], "value": c["value"]} for c in ctx.cookies()]

    # the archive cannot answer yet; the question is watched all the same
    ask(page, QUESTION)
    assert page.locator(".turn").last.locator(".answer").get_attribute("data-state") == "abstained"
    button = page.locator(".turn").last.locator("button.watch-btn")
    assert button.inner_text() == "Watch this question"
    button.click()
    page.wait_for_function(
        "() => document.querySelector('.turn:last-child .watch-btn').textContent === 'Watching ✓'",
        timeout=60_000)
    assert button.get_attribute("aria-pressed") == "true"
    mine = _watches(server, client)
    assert [w["question"] for w in mine] == [QUESTION] and mine[0]["unread"] == 0

    # another browser (another client id) sees none of it
    other_ctx = browser.new_context(viewport={"width": 1000, "height": 700})
    other = other_ctx.new_page()
    other_errors = console_watch(other)
    other.goto(server + "/")
    other.wait_for_selector("#watch-toggle:not([hidden])")
    other_client = other.evaluate("window.NewsqaWatch.client")
    assert other_client != client
    other.click("#watch-toggle")
    other.wait_for_selector("#watch-panel:not([hidden])")
    assert other.locator("#watch-list li").count() == 0
    assert other.is_visible("#watch-hint")
    assert _watches(server, other_client) == []
    assert other.inner_text("#watch-unread") == ""

    # an article that answers it arrives: the unread mark comes without a reload
    r = httpx.post(f"{server}/api/articles", json=[ARTICLE], timeout=120)
    assert r.status_code == 200 and r.json()["added"] == 1, r.text
    page.wait_for_function("() => document.querySelector('#watch-unread').textContent === '1'",
                           timeout=60_000)
    assert "(1)" in page.title()
    # announced to screen readers (aria-live)
    page.wait_for_function("() => document.querySelector('#watch-live').textContent"
                           ".includes(' for “')", timeout=10_000)
    assert other.inner_text("#watch-unread") == ""

    # the list, opened from the keyboard; the watch's notices are marked read once shown
    held: list[Any] = []
    page.route("**/api/watches/*/read", lambda route: held.append(route))
    page.focus("#watch-toggle")
    page.keyboard.press("Enter")
    page.wait_for_selector("#watch-panel:not([hidden])")
    item = page.locator("#watch-list li.watch")
    assert item.count() == 1 and "unread" in (item.get_attribute("class") or "")
    assert item.locator(".badge").inner_text() == "1"
    page.screenshot(path=str(tmp_path / "watch-list.png"))
    item.locator("button.watch-open").click()
    notice = item.locator(".notice")
    notice.first.wait_for(timeout=30_000)
    assert notice.count() == 1
    assert notice.locator(".new-mark").count() == 1
    assert notice.locator(".kind").inner_text() == "Now answered"  # there was no answer before
    assert "night ferry" in notice.locator(".notice-text").inner_text()
    notice.locator('a.cite[data-n="1"]').first.click()
    card = notice.locator(".notice-sources .source.active")
    card.wait_for()
    assert ARTICLE["title"] in card.inner_text()
    assert card.locator("a.title").get_attribute("href") == ARTICLE["url"]
    assert "harbour.example.com" in card.locator(".meta").inner_text()
    assert "2024-03-05" in card.locator(".meta").inner_text()
    assert card.locator("mark").count() >= 1
    shot = tmp_path / "watching.png"
    page.screenshot(path=str(shot))
    for route in held:
        route.continue_()
    page.unroute("**/api/watches/*/read")
    page.wait_for_function("() => document.querySelector('#watch-unread').textContent === ''",
                           timeout=30_000)
    assert _watches(server, client)[0]["unread"] == 0
    assert _watches(server, other_client) == []
    if dest := os.environ.get(SHOT_ENV):
        shutil.copyfile(shot, dest)

    # Escape closes the list and gives the focus back; × stops watching
    page.keyboard.press("Escape")
    assert page.is_hidden("#watch-panel")
    assert page.evaluate("document.activeElement.id") == "watch-toggle"
    page.click("#watch-toggle")
    page.click("#watch-list li.watch button.watch-remove")
    page.wait_for_selector("#watch-list li.watch", state="detached")
    assert _watches(server, client) == []
    assert button.inner_text() == "Watch this question"
    page.click(".turn .question")  # a click elsewhere puts the list away
    assert page.is_hidden("#watch-panel")
    assert errors == [] and other_errors == []
    other_ctx.close()
    ctx.close()
