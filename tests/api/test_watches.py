"""``/api/watches``: adding, listing, reading and removing watches, whose watches a request sees
(two browsers' client ids, the API key's owner, the command line's ``local``), what is refused
(422, 401, 409), the Atom feed, the poll of new notices, and the event stream over a real
server on 127.0.0.1 (a notice arrives after an ingest; the stream ends when the server stops).

A hash-embedder service with a low match threshold: a question on a bridge repair, first
answered by an article added after it was watched."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import feedparser
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.service import NewsQA
from tests.api.conftest import KEY, sse_events
from tests.support import NEWS, free_port, open_service
from tests.watch.story import QUESTION
from tests.watch.story import REPORT as BRIDGE

ALICE = {"X-Newsqa-Client": "alice-browser-0001"}
BOB = {"X-Newsqa-Client": "bob-browser-000002"}
AUTH = {"Authorization": f"Bearer {KEY}"}


def _service(path: Path, **settings: Any) -> NewsQA:
    svc = open_service(path, embedding__embedder="hash", watch__match_threshold=0.1,
                       **settings)
    svc.ingest_records(list(NEWS))
    return svc


@pytest.fixture
def watched(tmp_path: Path) -> Iterator[tuple[TestClient, NewsQA]]:
    """A client over a service with an API key (reads open)."""
    svc = _service(tmp_path / "index", api__key=KEY)
    with TestClient(create_app(svc)) as c:
        yield c, svc
    svc.close()


def _add(c: TestClient, headers: dict[str, str], **body: Any) -> dict[str, Any]:
    r = c.post("/api/watches", json={"question": QUESTION, **body}, headers=headers)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def test_add_list_get_read_delete(watched: tuple[TestClient, NewsQA]) -> None:
    c, svc = watched
    made = _add(c, ALICE, since="2024-01-01", sources=["springfield.example"])
    assert len(made["id"]) == 32 and made["question"] == QUESTION
    assert made["filters"] == {"since": "2024-01-01", "until": None,
                               "sources": ["springfield.example"]}
    assert made["answered"] is False and made["answer"]["abstained"] is True
    assert (made["notices"], made["unread"], made["webhook"]) == (0, 0, None)
    svc.ingest_records([BRIDGE])
    (listed,) = c.get("/api/watches", headers=ALICE).json()["watches"]
    assert (listed["id"], listed["notices"], listed["unread"], listed["answered"]) == (
        made["id"], 1, 1, True)
    assert "answer" not in listed
    detail = c.get(f"/api/watches/{made['id']}", headers=ALICE).json()
    assert detail["watch"]["answer"]["citations"][0]["url"] == BRIDGE.url
    (notice,) = detail["notices"]
    assert (notice["kind"], notice["seq"], notice["read"]) == ("first", 1, False)
    assert "Acme Works" in notice["text"] and notice["citations"][0]["n"] == 1
    assert c.post(f"/api/watches/{made['id']}/read", headers=ALICE).json() == {"read": 1}
    assert c.post(f"/api/watches/{made['id']}/read", headers=ALICE).json() == {"read": 0}
    assert c.get("/api/watches", headers=ALICE).json()["watches"][0]["unread"] == 0
    r = c.delete(f"/api/watches/{made['id']}", headers=ALICE)
    assert (r.status_code, r.content) == (204, b"")
    assert c.get(f"/api/watches/{made['id']}", headers=ALICE).status_code == 404
    assert c.delete(f"/api/watches/{made['id']}", headers=ALICE).status_code == 404
    assert c.get("/api/watches", headers=ALICE).json() == {"watches": []}


def test_each_owner_sees_only_its_own_watches(watched: tuple[TestClient, NewsQA]) -> None:
    c, svc = watched
    alice = _add(c, ALICE)
    local = _add(c, {})  # no key, no client id: the command line's "local"
    keyed = _add(c, {**AUTH, **BOB})  # the key wins over a client id
    assert {w.id: w.owner for w in svc.watches.all()} == {
        alice["id"]: "client:alice-browser-0001", local["id"]: "local",
        keyed["id"]: "key:" + hashlib.sha256(KEY.encode()).hexdigest()[:16]}
    cookie = {"Cookie": "newsqa_client=alice-browser-0001"}
    for headers, mine in ((ALICE, alice), (cookie, alice), ({}, local), (AUTH, keyed)):
        listed = c.get("/api/watches", headers=headers).json()["watches"]
        assert [w["id"] for w in listed] == [mine["id"]], headers
    assert c.get("/api/watches", headers=BOB).json() == {"watches": []}
    svc.ingest_records([BRIDGE])
    for path in (f"/api/watches/{alice['id']}", f"/api/watches/{alice['id']}/read"):
        method = "GET" if path.endswith(alice["id"]) else "POST"
        for other in (BOB, AUTH, {}):
            assert c.request(method, path, headers=other).status_code == 404, (path, other)
    assert c.delete(f"/api/watches/{alice['id']}", headers=BOB).status_code == 404
    assert c.get("/api/watches/events", headers=BOB).json() == {"notices": []}
    polled = c.get("/api/watches/events", headers=ALICE).json()["notices"]
    assert [(n["watch_id"], n["question"]) for n in polled] == [(alice["id"], QUESTION)]
    assert c.get(f"/api/watches/{alice['id']}", headers=ALICE).json()["watch"]["unread"] == 1


def test_what_is_refused(watched: tuple[TestClient, NewsQA]) -> None:
    c, svc = watched
    for headers in ({"X-Newsqa-Client": "short"}, {"X-Newsqa-Client": "x" * 65},
                    {"X-Newsqa-Client": "has space in it, too"},
                    {"Cookie": "newsqa_client=no/slashes/allowed/here"}):
        assert c.get("/api/watches", headers=headers).status_code == 422, headers
    limit = svc.settings.api.max_question_chars
    for body in ({"question": "  "}, {"question": "why " * limit},
                 {"question": QUESTION, "as_of": "2024-01-01"},
                 {"question": QUESTION, "k": 5},
                 {"question": QUESTION, "since": "2024-02-01", "until": "2024-01-01"},
                 {"question": QUESTION, "since": "yesterday"},
                 {"question": QUESTION, "webhook": "ftp://hooks.example.com/x"},
                 {"question": QUESTION, "webhook": "http://2130706433/hook"}):
        r = c.post("/api/watches", json=body, headers={**ALICE, **AUTH})
        assert r.status_code == 422, (body, r.text)
    assert c.get("/api/watches", headers={"Authorization": "Bearer wrong"}).status_code == 401
    assert c.get("/api/watches/not-a-watch-id", headers=ALICE).status_code == 404
    assert c.get("/api/watches/events", params={"after": "soon"}).status_code == 422
    assert svc.watches.all() == []


def test_a_webhook_needs_write_access_and_a_public_address(
    watched: tuple[TestClient, NewsQA], tmp_path: Path
) -> None:
    c, _ = watched
    hook = {"webhook": "http://127.0.0.1:9/hook"}
    assert c.post("/api/watches", json={"question": QUESTION, **hook},
                  headers=ALICE).status_code == 401  # the server has a key
    r = c.post("/api/watches", json={"question": QUESTION, **hook}, headers={**ALICE, **AUTH})
    assert r.status_code == 422
    assert r.json()["detail"] == (
        "127.0.0.1 is a loopback address: the webhook address guard refuses it; list it in "
        "NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS to allow it")
    for url in ("http://localhost:9/hook", "http://10.1.2.3/hook", "http://169.254.169.254/"):
        r = c.post("/api/watches", json={"question": QUESTION, "webhook": url}, headers=AUTH)
        assert r.status_code == 422, url
    made = _add(c, AUTH, webhook="https://hooks.example.com/newsqa")
    assert made["webhook"] == "https://hooks.example.com/newsqa"
    svc = _service(tmp_path / "allowed", watch__webhook_allow_hosts="127.0.0.1")
    try:
        with TestClient(create_app(svc)) as open_client:  # no key: loopback writes are open
            made = _add(open_client, ALICE, **hook)
            assert made["webhook"] == hook["webhook"]
    finally:
        svc.close()


def test_past_the_limit_a_watch_is_refused_with_409(tmp_path: Path) -> None:
    svc = _service(tmp_path, watch__max_per_owner=2)
    try:
        with TestClient(create_app(svc)) as c:
            _add(c, ALICE)
            _add(c, ALICE)
            r = c.post("/api/watches", json={"question": QUESTION}, headers=ALICE)
            assert r.status_code == 409 and "NEWSQA_WATCH__MAX_PER_OWNER" in r.json()["detail"]
            assert "retry-after" not in r.headers
            _add(c, BOB)  # another owner's count is its own
    finally:
        svc.close()


def test_the_atom_feed(watched: tuple[TestClient, NewsQA]) -> None:
    c, svc = watched
    made = _add(c, ALICE)
    svc.ingest_records([BRIDGE])
    url = f"/api/watches/{made['id']}/feed.xml"
    r = c.get(url)  # no client id: the id is the capability
    assert r.status_code == 200 and r.headers["content-type"] == "application/atom+xml"
    feed = feedparser.parse(r.content)
    assert not feed.bozo and feed.feed.title == f"newsqa watch: {QUESTION}"
    (entry,) = feed.entries
    assert entry.title == f"First answer: {QUESTION}"
    assert BRIDGE.url in entry.content[0].value
    assert entry.link == f"http://testserver/?watch={made['id']}"
    assert c.get(url, headers={"If-None-Match": r.headers["etag"]}).status_code == 304
    assert c.get(f"/api/watches/{'0' * 32}/feed.xml").status_code == 404
    dashed = made["id"][:8] + "-" + made["id"][8:12] + "-" + made["id"][12:16] + "-" + \
        made["id"][16:20] + "-" + made["id"][20:]
    assert c.get(f"/api/watches/{dashed}/feed.xml").status_code == 200  # the UUID form


def test_reads_keyed_need_the_key_for_every_watch_route(tmp_path: Path) -> None:
    svc = _service(tmp_path, api__key=KEY, api__key_reads=True)
    try:
        with TestClient(create_app(svc)) as c:
            made = _add(c, AUTH)
            for method, path in (("GET", "/api/watches"), ("GET", "/api/watches/events"),
                                 ("GET", f"/api/watches/{made['id']}"),
                                 ("GET", f"/api/watches/{made['id']}/feed.xml"),
                                 ("POST", f"/api/watches/{made['id']}/read"),
                                 ("DELETE", f"/api/watches/{made['id']}")):
                assert c.request(method, path, headers=ALICE).status_code == 401, path
                assert c.request(method, path, headers=AUTH).status_code < 300, path
    finally:
        svc.close()


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn on a free 127.0.0.1 port in a thread; its URL."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(),
                                           log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{server.config.port}"
    finally:
        server.should_exit = True
        thread.join(20)


def _events(lines: Iterator[str], until: float) -> Iterator[tuple[str, Any]]:
    block: list[str] = []
    for line in lines:
        assert time.monotonic() < until, "no event in time"
        if line:
            block.append(line)
            continue
        if any(b.startswith("event:") for b in block):
            yield from sse_events("\n".join(block))
        block = []


def test_the_event_stream_brings_a_notice_after_an_ingest(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    app = create_app(svc)
    try:
        with serving(app) as url, httpx.Client(timeout=10) as http:
            made = http.post(f"{url}/api/watches", json={"question": QUESTION},
                             headers=ALICE).json()
            stream = {"Accept": "text/event-stream", **ALICE}
            with http.stream("GET", f"{url}/api/watches/events", headers=stream) as r:
                assert r.headers["content-type"].startswith("text/event-stream")
                lines = r.iter_lines()
                assert next(lines) == "retry: 3000"
                threading.Timer(0.3, svc.ingest_records, [[BRIDGE]]).start()
                event, data = next(_events(lines, time.monotonic() + 10))
            assert event == "notice"
            assert (data["watch_id"], data["question"], data["kind"]) == (
                made["id"], QUESTION, "first")
            # resuming from before it (a poll's `after`, or Last-Event-ID) brings it again
            with http.stream("GET", f"{url}/api/watches/events", params={"after": 0},
                             headers=stream) as r:
                event, again = next(_events(r.iter_lines(), time.monotonic() + 10))
            assert again["id"] == data["id"]
            other = {"Accept": "text/event-stream", **BOB}
            with http.stream("GET", f"{url}/api/watches/events", params={"after": 0},
                             headers=other) as r:  # another browser's stream stays quiet
                lines = r.iter_lines()
                assert next(lines) == "retry: 3000"
                app.state.stopping.set()  # ... until the server stops: then it ends
                started = time.monotonic()
                assert [line for line in lines if line] == []
                assert time.monotonic() - started < 5
    finally:
        svc.close()
