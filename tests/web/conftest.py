"""Fixtures of the browser tests: the real server on the bundled corpus, and headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.support import REPO, local_server
from tests.web.chat import CHROMIUM, CHROMIUM_ARGS


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``newsqa serve`` on a free port, bootstrapped with the bundled corpus (one per module:
    a module may add articles to its own)."""
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
