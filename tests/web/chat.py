"""What the browser tests share: Debian's Chromium, asking a question, watching the console."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--no-first-run",
]
#: The marks of a browser test module: it drives Chromium, and is skipped without it.
BROWSER_MARKS = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason="/usr/bin/chromium is missing: apt-get install -y chromium chromium-driver",
    ),
]


def ask(page: Any, question: str) -> None:
    """Ask ``question`` in the chat and wait until its answer is finished (or failed)."""
    page.fill("#question", question)
    page.click("#ask")
    page.wait_for_selector(".turn:last-child .answer[data-state]", timeout=60_000)


def console_watch(page: Any) -> list[str]:
    """Page errors and console errors (a Content-Security-Policy violation is one, and so is a
    resource the page links that fails to load, such as its icon)."""
    seen: list[str] = []

    def console(m: Any) -> None:
        if m.type == "error":
            seen.append(m.text)

    page.on("pageerror", lambda exc: seen.append(str(exc)))
    page.on("console", console)
    return seen
