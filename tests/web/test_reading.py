"""What a reader sees of the chat at a desk (1280×800) and on a phone (390×844): the newest
answer scrolled into view, a header whose parts do not overlap, a source card shown below the
header, and one card per cited article."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from tests.support import REPO, SEED_QUESTION, local_server
from tests.web.chat import BROWSER_MARKS, ask, console_watch

pytestmark = BROWSER_MARKS

DESK = {"viewport": {"width": 1280, "height": 800}}
PHONE = {"viewport": {"width": 390, "height": 844}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
QUESTIONS = [
    SEED_QUESTION,
    "What is it worried about?",
    "How does the ROK-US alliance differ from the US-Japan alliance?",
]
KOREA = "Korea-US Alliance vs. Japan-US Alliance"

#: The newest answer's height, how much of it is visible between the sticky header and the
#: sticky question form, and how much room there is between them.
SEEN = """() => {
    const a = [...document.querySelectorAll('.turn .answer')].pop().getBoundingClientRect();
    const top = document.querySelector('.top').getBoundingClientRect().bottom;
    const form = document.querySelector('#ask-form').getBoundingClientRect();
    const bottom = Math.min(innerHeight, form.top);
    const visible = Math.max(0, Math.min(a.bottom, bottom) - Math.max(a.top, top));
    return {height: a.height, visible, room: bottom - top};
}"""
#: Resolves once the page has not scrolled for 300 ms (a smooth scroll has ended).
SETTLED = """() => new Promise((done) => {
    let last = -1, still = 0;
    const tick = () => {
        still = scrollY === last ? still + 1 : 0;
        last = scrollY;
        if (still >= 6) done(scrollY); else setTimeout(tick, 50);
    };
    tick();
})"""


def _in_view(page: Any) -> tuple[bool, dict[str, float]]:
    seen = page.evaluate(SEEN)
    return seen["visible"] >= min(seen["height"], seen["room"]) - 1, seen


@pytest.mark.parametrize("filters", [False, True], ids=["plain", "filters-open"])
@pytest.mark.parametrize("device", [DESK, PHONE], ids=["desk", "phone"])
def test_the_newest_answer_is_scrolled_into_view(
    server: str, browser: Any, device: dict[str, Any], filters: bool
) -> None:
    ctx = browser.new_context(**device)
    page = ctx.new_page()
    errors = console_watch(page)
    page.goto(server + "/")
    page.wait_for_selector("#index-size:not(:empty)")
    if filters:
        page.click("#filters summary")
    for question in QUESTIONS:
        ask(page, question)
        page.evaluate(SETTLED)
        ok, seen = _in_view(page)
        assert ok, f"after {question!r}: {json.dumps(seen)}"
    assert page.locator(".turn").count() == 3
    assert errors == []
    ctx.close()


def test_the_page_stays_where_the_reader_scrolled_up_to(server: str, browser: Any) -> None:
    """A reader who scrolls up while an answer is on its way is not pulled down when it ends."""
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(server + "/")
    for question in QUESTIONS[:2]:
        ask(page, question)
    held: list[Any] = []
    page.route("**/api/ask/stream", lambda route: held.append(route))
    page.fill("#question", QUESTIONS[2])
    page.click("#ask")
    page.wait_for_selector(".turn:nth-child(3) .answer.streaming")
    followed = page.evaluate(SETTLED)
    page.mouse.move(195, 300)
    page.mouse.wheel(0, -100)
    where = page.evaluate(SETTLED)
    assert 0 < where < followed
    held[0].continue_()
    page.wait_for_selector(".turn:nth-child(3) .answer[data-state]", timeout=60_000)
    assert page.evaluate(SETTLED) == where
    ctx.close()


def test_phone_header_parts_do_not_overlap_and_a_source_card_shows_below_it(
    server: str, browser: Any
) -> None:
    ctx = browser.new_context(**PHONE)
    page = ctx.new_page()
    page.goto(server + "/")
    page.wait_for_selector("#index-size:not(:empty)")
    boxes = {sel: page.locator(sel).bounding_box() for sel in (".top h1", "#index-size", "#new")}
    for a, b in [(".top h1", "#index-size"), ("#index-size", "#new"), (".top h1", "#new")]:
        ra, rb = boxes[a], boxes[b]
        apart = (ra["x"] + ra["width"] <= rb["x"] or rb["x"] + rb["width"] <= ra["x"]
                 or ra["y"] + ra["height"] <= rb["y"] or rb["y"] + rb["height"] <= ra["y"])
        assert apart, f"{a} overlaps {b}: {boxes}"
    ask(page, SEED_QUESTION)
    page.locator('.turn .answer a.cite[data-n="1"]').first.click()
    page.evaluate(SETTLED)
    header = page.locator(".top").bounding_box()
    card = page.locator("#sources .source.active").bounding_box()
    assert card["y"] >= header["y"] + header["height"], (card, header)
    assert card["y"] < 844 / 2, "the card's head is near the top, not somewhere below"
    ctx.close()


@pytest.fixture(scope="module")
def composer_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The same server with the reader off: the composer answers the seed question from two
    passages of the seed article."""
    index = tmp_path_factory.mktemp("web-composer") / "index"
    with local_server(index, [str(REPO / "corpus")], limit=120,
                      env={"NEWSQA_READER__MODE": "off"}) as url:
        yield url


@pytest.mark.parametrize("which", ["default", "composer"])
def test_the_seed_question_shows_one_card_for_the_seed_article(
    server: str, composer_server: str, browser: Any, which: str
) -> None:
    """The answer quotes only the one seed article: one number, one card with every quoted
    sentence marked, and every [n] of the answer leads to it. The composer's answer quotes two
    passages of it, each marked on the one card; the reader's (the default) one sentence."""
    page = browser.new_page(**DESK)
    errors = console_watch(page)
    page.goto((server if which == "default" else composer_server) + "/")
    ask(page, SEED_QUESTION)
    cards = page.locator("#sources .source")
    assert cards.count() == 1
    assert KOREA in cards.first.inner_text()
    links = page.locator(".turn .answer a.cite")
    assert links.count() >= (2 if which == "composer" else 1)
    assert cards.first.locator("mark").count() >= links.count()
    assert {links.nth(i).get_attribute("data-n") for i in range(links.count())} == {"1"}
    assert page.inner_text(".turn .turn-meta .show-sources") == "1 source"
    assert errors == []
    page.close()
