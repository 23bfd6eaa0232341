"""The web chat in headless Chromium (Debian's build, driven by Playwright) against the real
server: ``newsqa serve`` in a subprocess on a tiny index of ``corpus/``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support import REPO, SEED_QUESTION, local_server

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
EVIL_TITLE = (
    'Zorblatt festival <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
)
EVIL_TEXT = (
    "The Zorblatt festival of lanterns drew record crowds to the river promenade this weekend. "
    'Organisers said <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2"> '
    "appeared on a prank banner at the Zorblatt festival gate. "
    "The Zorblatt festival ends on Sunday."
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: apt-get install -y chromium chromium-driver",
    ),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``newsqa serve`` on a free port, bootstrapped with the bundled corpus."""
    index = tmp_path_factory.mktemp("web") / "index"
    with local_server(index, [str(REPO / "corpus")], limit=120) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    """Headless Chromium (never a downloaded browser)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


def _ask(page: object, question: str) -> None:
    page.fill("#question", question)  # type: ignore[attr-defined]
    page.click("#ask")  # type: ignore[attr-defined]
    page.wait_for_selector(  # type: ignore[attr-defined]
        ".turn:last-child .answer[data-state]", timeout=60_000
    )


def test_ask_cite_and_escape(server: str, browser: object, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(server + "/")
    page.wait_for_selector("#index-size:not(:empty)")
    page.screenshot(path=str(tmp_path / "01-empty.png"))

    _ask(page, SEED_QUESTION)
    answer = page.locator(".turn").last.locator(".answer")
    assert answer.get_attribute("data-state") == "done"
    assert "collective self-defense" in answer.inner_text()
    page.click('.answer a.cite[data-n="1"]')
    card = page.locator('#sources .source[data-n="1"]')
    page.wait_for_function(
        "document.querySelector('#sources .source[data-n=\"1\"]').classList.contains('active')"
    )
    marks = card.locator("mark")
    assert marks.count() >= 1
    assert "collective self-defense" in " ".join(marks.all_inner_texts())
    assert "Korea-US Alliance vs. Japan-US Alliance" in card.inner_text()
    assert "2013-11-30" in card.inner_text()
    page.screenshot(path=str(tmp_path / "02-answer.png"), full_page=True)

    # a follow-up carries the conversation
    sent: list[dict[str, object]] = []
    page.on("request", lambda req: sent.append(req.post_data_json)
            if req.url.endswith("/api/ask/stream") else None)
    _ask(page, "What is it worried about?")
    assert sent[-1]["history"][0] == {"role": "user", "content": SEED_QUESTION}  # type: ignore[index]
    assert page.locator(".turn").count() == 2

    r = httpx.post(f"{server}/api/articles", json=[{
        "title": EVIL_TITLE, "text": EVIL_TEXT, "url": "https://evil.example.com/festival",
        "published_at": "2024-06-01",
    }], timeout=60)
    assert r.status_code == 200 and r.json()["added"] == 1, r.text

    _ask(page, "What happened at the Zorblatt festival of lanterns?")
    last = page.locator(".turn").last
    assert last.locator(".answer").get_attribute("data-state") == "done"
    assert page.locator("#sources .source").filter(has_text="Zorblatt").count() >= 1
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator("#sources script, #conversation script, #sources img").count() == 0
    body = page.inner_text("body")
    assert "<script>window.__pwned=1</script>" in body
    assert "onerror=" in body
    page.screenshot(path=str(tmp_path / "03-escaped.png"), full_page=True)

    # an unanswerable question abstains and lists the closest articles instead
    _ask(page, "Who won the 2022 FIFA World Cup?")
    last = page.locator(".turn").last
    assert last.locator(".answer").get_attribute("data-state") == "abstained"
    assert page.locator("#sources .source.closest").count() >= 1
    assert page.inner_text("#sources-title") == "Closest articles"
    assert errors == []
    page.close()


def test_phone_viewport(server: str, browser: object, tmp_path: Path) -> None:
    ctx = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
        has_touch=True,
    )
    page = ctx.new_page()
    page.goto(server + "/")
    page.click("#filters summary")
    page.fill("#since", "2013-01-01")
    page.fill("#until", "2013-12-31")
    _ask(page, SEED_QUESTION)
    assert page.locator(".turn .answer").get_attribute("data-state") == "done"
    page.click('.answer a.cite[data-n="1"]')
    assert page.locator('#sources .source[data-n="1"] mark').count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(tmp_path / "04-phone.png"), full_page=True)
    ctx.close()
