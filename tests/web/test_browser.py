"""The web chat in headless Chromium (Debian's build, driven by Playwright) against the real
server: ``newsqa serve`` in a subprocess on a tiny index of ``corpus/``."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from tests.support import REPO, SEED_QUESTION, local_server
from tests.web.chat import BROWSER_MARKS, ask, console_watch

EVIL_TITLE = (
    'Zorblatt festival <script>window.__pwned=1</script> <img src=x onerror="window.__pwned=2">'
)
EVIL_TEXT = (
    "The Zorblatt festival of lanterns drew record crowds to the river promenade this weekend. "
    'Organisers said <script>window.__pwned=1</script> and <img src=x onerror="window.__pwned=2"> '
    "appeared on a prank banner at the Zorblatt festival gate. "
    "The Zorblatt festival ends on Sunday."
)

pytestmark = BROWSER_MARKS


def test_ask_cite_and_escape(server: str, browser: object, tmp_path: Path) -> None:
    page = browser.new_page(viewport={"width": 1280, "height": 900})  # type: ignore[attr-defined]
    errors = console_watch(page)  # a Content-Security-Policy violation would be one
    page.goto(server + "/")
    page.wait_for_selector("#index-size:not(:empty)")
    page.screenshot(path=str(tmp_path / "01-empty.png"))

    ask(page, SEED_QUESTION)
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
    ask(page, "What is it worried about?")
    assert sent[-1]["history"][0] == {"role": "user", "content": SEED_QUESTION}  # type: ignore[index]
    assert page.locator(".turn").count() == 2

    r = httpx.post(f"{server}/api/articles", json=[{
        "title": EVIL_TITLE, "text": EVIL_TEXT, "url": "https://evil.example.com/festival",
        "published_at": "2024-06-01",
    }], timeout=60)
    assert r.status_code == 200 and r.json()["added"] == 1, r.text

    ask(page, "What happened at the Zorblatt festival of lanterns?")
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
    ask(page, "Who won the 2022 FIFA World Cup?")
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
    ask(page, SEED_QUESTION)
    assert page.locator(".turn .answer").get_attribute("data-state") == "done"
    page.click('.answer a.cite[data-n="1"]')
    assert page.locator('#sources .source[data-n="1"] mark').count() >= 1
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"page scrolls sideways on a phone ({width}px)"
    page.screenshot(path=str(tmp_path / "04-phone.png"), full_page=True)
    ctx.close()


# ---------------------------------------------------------------------------- failure paths
def _sse_body(events: list[tuple[str, object]], newline: str = "\n") -> str:
    return "".join(
        f"event: {name}{newline}data: {json.dumps(data, ensure_ascii=False)}{newline}{newline}"
        for name, data in events
    )


STORM_PASSAGE = "The storm hit the coast on Wednesday [12]. Power was cut to 3,000 homes."
STORM_CITATION = {
    "n": 1, "article_id": "storm1", "chunk_id": 1, "url": "https://example.com/storm",
    "title": "Storm hits coast", "source": "example.com", "published_at": "2023-01-16",
    "quote": "The storm hit the coast on Wednesday [12].", "passage": STORM_PASSAGE,
}
STORM_SEGMENT = {"text": "The storm hit the coast on Wednesday [12].", "citations": [1],
                 "lead": "", "span": [27, 36]}


def _storm_answer(question: str) -> dict[str, object]:
    return {
        # the plain string writes the article's "[12]" as "(12)"; the page renders segments
        "question": question, "answer": "The storm hit the coast on Wednesday (12). [1]",
        "segments": [STORM_SEGMENT], "abstained": False, "view": "answer", "evidence": 0.9,
        "citations": [STORM_CITATION], "passages": [], "filters": {}, "timings_ms": {"total": 5.0},
    }


def _storm_events(question: str) -> list[tuple[str, object]]:
    return [
        ("sources", {"passages": []}),
        ("delta", {"text": "The storm hit the coast on Wednesday (12). [1]",
                   "segment": STORM_SEGMENT}),
        ("done", _storm_answer(question)),
    ]


def test_bracketed_numbers_in_article_text_are_text_not_citations(
    server: str, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    question = "When did the storm hit?"
    page.route("**/api/ask/stream", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=_sse_body(_storm_events(question))))
    page.goto(server + "/")
    ask(page, question)
    answer = page.locator(".turn").last.locator(".answer")
    assert answer.get_attribute("data-state") == "done"
    assert answer.inner_text() == "The storm hit the coast on Wednesday [12]. [1]"
    assert answer.locator("a.cite").count() == 1
    assert answer.locator("a.cite").get_attribute("data-n") == "1"
    assert answer.locator("strong.span").inner_text() == "Wednesday"
    page.click('.answer a.cite[data-n="1"]')
    assert page.locator('#sources .source[data-n="1"] mark').inner_text() == (
        "The storm hit the coast on Wednesday [12]."
    )
    assert errors == []
    page.close()


def test_a_quoted_headline_is_marked_on_the_title_not_added_to_the_passage(
    server: str, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    question = "Which city did the storm hit?"
    headline = "Storm hits Port Adria"
    citation = {**STORM_CITATION, "title": headline, "quote": headline}
    segment = {"text": headline, "citations": [1], "lead": "", "span": [11, 21],
               "quotes": [headline]}
    done = {**_storm_answer(question), "answer": f"{headline} [1]", "segments": [segment],
            "citations": [citation]}
    events = [("sources", {"passages": []}),
              ("delta", {"text": f"{headline} [1]", "segment": segment}), ("done", done)]
    page.route("**/api/ask/stream", lambda route: route.fulfill(
        status=200, content_type="text/event-stream", body=_sse_body(events)))
    page.goto(server + "/")
    ask(page, question)
    card = page.locator('#sources .source[data-n="1"]')
    assert card.locator(".source-head mark").inner_text() == headline
    assert card.locator("blockquote mark").count() == 0
    assert card.locator("blockquote").inner_text() == STORM_PASSAGE
    assert errors == []
    page.close()


def test_sse_parser_handles_every_line_ending_and_split_chunks(
    server: str, browser: object
) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    chunks = [
        "event: delta\r", "\ndata: {\"text\": \"a\"}\r", "\n\r", "\n",  # CRLF split in two
        "event: done\rdata: 1\r\r",  # CR only
        "data: x\n", "\n",  # LF only, the blank line in its own chunk
        ": a comment\n\n",
        "data: two\ndata: lines\r\n\r\n",
        "event: tail\ndata: 3\r\r",  # ends on a CR: only the end of the stream completes it
        "data: incomplete\n",  # no blank line before the end: discarded
    ]
    events = page.evaluate("""(chunks) => {
        const p = new window.NewsqaSSE.Parser();
        const out = [];
        for (const c of chunks) out.push(...p.push(c));
        out.push(...p.end());
        return out;
    }""", chunks)
    assert events == [
        {"event": "delta", "data": '{"text": "a"}'},
        {"event": "done", "data": "1"},
        {"event": "message", "data": "x"},
        {"event": "message", "data": "two\nlines"},
        {"event": "tail", "data": "3"},
    ]
    page.close()


def test_answer_stream_split_inside_line_endings_and_characters(
    server: str, browser: object
) -> None:
    """The page's own fetch path, fed a CRLF stream cut between every CR and LF and inside a
    multi-byte character."""
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    page.goto(server + "/")
    question = "Where did the storm — the big one — hit?"
    body = _sse_body(_storm_events(question), newline="\r\n").encode()
    cuts = sorted({i + 1 for i in range(len(body)) if body[i:i + 1] == b"\r"}
                  | {body.index("—".encode()) + 1})
    chunks = [list(body[a:b]) for a, b in zip([0, *cuts], [*cuts, len(body)], strict=True)]
    page.evaluate("""(chunks) => {
        const real = window.fetch;
        window.fetch = (url, opts) => {
            if (!String(url).endsWith("/api/ask/stream")) return real(url, opts);
            const stream = new ReadableStream({ start(ctl) {
                for (const c of chunks) ctl.enqueue(new Uint8Array(c));
                ctl.close();
            } });
            return Promise.resolve(new Response(stream, {
                status: 200, headers: { "Content-Type": "text/event-stream" } }));
        };
    }""", chunks)
    ask(page, question)
    turn = page.locator(".turn").last
    assert turn.locator(".answer").get_attribute("data-state") == "done"
    assert turn.locator(".answer").inner_text() == "The storm hit the coast on Wednesday [12]. [1]"
    assert page.inner_text("#sources-hint") == f"For: “{question}”"
    assert errors == []
    page.close()


def test_new_conversation_aborts_the_answer_in_flight(server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    held: list[object] = []
    sent: list[dict[str, object]] = []

    def handle(route: object) -> None:
        sent.append(route.request.post_data_json)  # type: ignore[attr-defined]
        if not held:
            held.append(route)  # the first answer hangs until the test lets it go
        else:
            route.fulfill(status=200, content_type="text/event-stream",  # type: ignore[attr-defined]
                          body=_sse_body(_storm_events(str(sent[-1]["question"]))))

    page.route("**/api/ask/stream", handle)
    page.goto(server + "/")
    page.fill("#question", "Old question")
    page.click("#ask")
    page.wait_for_selector(".turn .answer.streaming")
    assert page.is_disabled("#ask")
    page.click("#new")
    assert page.locator(".turn").count() == 0 and page.is_enabled("#ask")
    try:  # the old answer arrives after all: it must land nowhere
        held[0].fulfill(status=200, content_type="text/event-stream",  # type: ignore[attr-defined]
                        body=_sse_body(_storm_events("Old question")))
    except Exception:  # noqa: BLE001 - Playwright may refuse: the request was aborted
        pass
    page.wait_for_timeout(300)
    assert page.locator(".turn").count() == 0 and page.inner_text("#sources") == ""
    ask(page, "New question")
    assert sent[-1] == {"question": "New question"}, "the old answer is not in the history"
    assert page.locator(".turn").count() == 1
    assert page.inner_text("#sources-hint") == "For: “New question”"
    assert errors == []
    page.close()


def test_a_hung_answer_times_out_with_a_message(server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.route("**/api/ask/stream", lambda route: None)  # never answered
    page.goto(server + "/?timeout=1.5")
    page.fill("#question", "Anyone there?")
    page.click("#ask")
    page.wait_for_selector(".turn .answer[data-state]", timeout=10_000)
    answer = page.locator(".turn .answer")
    assert answer.get_attribute("data-state") == "error"
    assert answer.inner_text() == (
        "No answer from the server within 1.5 seconds; it may be busy. Please try again."
    )
    assert page.is_enabled("#ask")
    page.close()


def test_docs_page_works_under_its_content_security_policy(server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    response = page.goto(server + "/docs")
    assert "script-src 'self' 'sha256-" in response.headers["content-security-policy"]
    page.wait_for_selector(".swagger-ui .opblock-summary-path", timeout=30_000)
    assert page.locator(".swagger-ui .opblock").count() == 23
    assert "newsqa" in page.inner_text(".swagger-ui .info .title")
    page.goto(server + "/redoc")
    page.wait_for_selector("h1:has-text(\"newsqa\")", timeout=30_000)
    assert page.locator("h2:has-text(\"Chat completion (OpenAI-compatible)\")").count() == 1
    # ReDoc's "powered by" logo comes from its CDN; the policy keeps the page offline
    assert [e for e in errors if "https://cdn.redoc.ly/redoc/logo-mini.svg" not in e] == []
    page.close()


def test_footnote_brackets_of_a_real_article_stay_text(server: str, browser: object) -> None:
    """End to end on the real model: an article's "[12]" is quoted, never a citation link."""
    r = httpx.post(f"{server}/api/articles", json=[{
        "title": "Storm hits the coast", "url": "https://example.com/storm",
        "text": "The storm hit the coast on Wednesday [12]. Power was cut to 3,000 homes in "
        "the county [3], officials said.", "published_at": "2023-01-18",
    }], timeout=60)
    assert r.status_code == 200 and r.json()["added"] == 1, r.text
    page = browser.new_page()  # type: ignore[attr-defined]
    errors = console_watch(page)
    page.goto(server + "/")
    ask(page, "When did the storm hit the coast?")
    answer = page.locator(".turn").last.locator(".answer")
    assert answer.get_attribute("data-state") == "done"
    assert answer.inner_text().startswith("The storm hit the coast on Wednesday [12]. [1]")
    # links are the answer's citations, numbered 1..m; the article's "[12]" and "[3]" stay text
    links = answer.locator("a.cite")
    ns = [int(links.nth(i).get_attribute("data-n") or 0) for i in range(links.count())]
    assert ns and ns[0] == 1 and sorted(set(ns)) == list(range(1, max(ns) + 1)), ns
    assert 12 not in ns
    assert errors == []
    page.close()


def test_generated_answer_with_a_flagged_sentence(browser: object, tmp_path: Path) -> None:
    import os

    from tests.fake_llm import FakeLLM, fake_llm_server, gullible_reply

    def reply(messages: list[dict[str, object]]) -> str:
        return gullible_reply(messages) + " The treaty was signed by 42 nations [1]."

    script = FakeLLM(reply=reply, piece_delay_s=0.02)
    with fake_llm_server(script) as llm:
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "NEWSQA_EMBEDDING__EMBEDDER": "hash",
               "NEWSQA_GENERATOR__URL": llm, "NEWSQA_GENERATOR__MODEL": "fake-7b"}
        env.pop("NEWSQA_API__KEY", None)
        with local_server(tmp_path / "index", [str(REPO / "corpus")], 120, env) as url:
            page = browser.new_page()  # type: ignore[attr-defined]
            errors = console_watch(page)
            page.goto(url + "/")
            page.wait_for_selector("#generate-switch:not([hidden])")
            assert "fake-7b" in page.inner_text("#generate-switch")
            page.check("#generate")
            ask(page, SEED_QUESTION)
            answer = page.locator(".turn").last.locator(".answer")
            assert answer.get_attribute("data-state") == "done"
            flagged = answer.locator(".segment.flagged")
            assert flagged.count() == 1
            assert "42 nations" in flagged.inner_text()
            assert "(not supported by the sources)" in flagged.inner_text()
            assert flagged.locator("a.cite").count() == 0
            kept = answer.locator(".segment:not(.flagged)")
            assert kept.count() == 1 and kept.locator('a.cite[data-n="1"]').count() == 1
            meta = page.locator(".turn").last.locator(".turn-meta").inner_text()
            assert "2 sentences checked, 1 supported, 1 flagged" in meta
            page.click('.answer a.cite[data-n="1"]')
            assert page.locator('#sources .source[data-n="1"] mark').count() >= 1
            assert script.requests[-1]["stream"] is True
            assert errors == []
            page.close()


def test_generate_switch_is_hidden_without_a_model(server: str, browser: object) -> None:
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto(server + "/")
    page.wait_for_selector("#index-size:not(:empty)")
    assert page.locator("#generate-switch").is_hidden()
    page.close()
