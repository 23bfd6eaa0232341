"""Webhook delivery (:mod:`newsqa.watch.deliver`) against receivers on 127.0.0.1: a notice is
delivered once, a failing receiver is retried with back-off and then given up, two deliverers
never both post one notice, no redirect is followed, a slow receiver is cut off, an address the
guard refuses is never reached, and the server's background round asks and delivers by itself.

The watches are real (a hash-embedder service, a low match threshold): a question on a bridge
repair, answered first by an article added after it was watched."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsqa.service import NewsQA
from newsqa.watch.deliver import deliver, deliver_due, start_watching
from newsqa.watch.store import WatchStore
from tests.support import NEWS, open_service
from tests.watch.story import QUESTION, Receiver
from tests.watch.story import REPORT as BRIDGE


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


def _service(path: Path, **settings: Any) -> NewsQA:
    settings = {"watch__match_threshold": 0.1, "watch__webhook_allow_hosts": "127.0.0.1",
                **settings}
    svc = open_service(path, embedding__embedder="hash", **settings)
    svc.ingest_records(list(NEWS))
    return svc


def _noticed(svc: NewsQA, webhook: str) -> str:
    """A watch with ``webhook`` and one notice pending delivery; the watch's id."""
    watch = svc.watches.add(QUESTION, webhook=webhook)
    svc.ingest_records([BRIDGE])
    (notice,) = svc.watches.notices(watch.id)
    assert (notice.kind, notice.webhook) == ("first", "pending")
    return watch.id


def _state(svc: NewsQA, watch_id: str) -> str | None:
    return svc.watches.notices(watch_id)[0].webhook


def test_a_notice_is_delivered_once(tmp_path: Path, receiver: Receiver) -> None:
    svc = _service(tmp_path, watch__public_url="https://news.example.org")
    try:
        wid = _noticed(svc, receiver.url)
        assert deliver_due(svc) == 1
        assert deliver_due(svc, now=time.time() + 86400) == 0
        ((path, body),) = receiver.posts
        assert path == "/hook"
        assert body["watch"]["id"] == wid and body["watch"]["question"] == QUESTION
        assert body["notice"]["kind"] == "first" and body["notice"]["seq"] == 1
        assert body["notice"]["citations"][0]["url"] == "https://springfield.example/bridge"
        assert body["answer_url"] == f"https://news.example.org/?watch={wid}"
        assert _state(svc, wid) == "delivered"
    finally:
        svc.close()


def test_a_failing_receiver_is_retried_with_back_off_then_given_up(tmp_path: Path) -> None:
    failing = Receiver(status=500)
    svc = _service(tmp_path, watch__webhook_attempts=3, watch__webhook_backoff=10)
    try:
        wid = _noticed(svc, failing.url)
        t0 = time.time()
        assert deliver_due(svc, now=t0) == 0
        assert len(failing.posts) == 1 and _state(svc, wid) == "pending"
        deliver_due(svc, now=t0 + 9)  # the first back-off is 10 s
        assert len(failing.posts) == 1
        deliver_due(svc, now=t0 + 10)
        assert len(failing.posts) == 2 and _state(svc, wid) == "pending"
        deliver_due(svc, now=t0 + 29)  # then 20 s
        assert len(failing.posts) == 2
        deliver_due(svc, now=t0 + 30)
        assert len(failing.posts) == 3 and _state(svc, wid) == "failed"
        deliver_due(svc, now=t0 + 10**6)
        assert len(failing.posts) == 3
        row = svc.watches.store._db.execute(
            "SELECT hook_error, hook_attempts FROM watch_notices").fetchone()
        assert row == ("HTTP 500: no", 3)
    finally:
        svc.close()
        failing.close()


def test_two_deliverers_post_a_notice_once(tmp_path: Path) -> None:
    slow = Receiver(delay=0.3)
    svc = _service(tmp_path)
    stores = [WatchStore.open(tmp_path), WatchStore.open(tmp_path)]  # as two nodes would
    try:
        wid = _noticed(svc, slow.url)
        start = threading.Barrier(2)
        done: list[int] = []

        def run(store: WatchStore) -> None:
            start.wait()
            done.append(deliver(store, svc.settings.watch))

        threads = [threading.Thread(target=run, args=(s,)) for s in stores]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        assert sorted(done) == [0, 1]
        assert len(slow.posts) == 1 and _state(svc, wid) == "delivered"
    finally:
        for s in stores:
            s.close()
        svc.close()
        slow.close()


def test_a_redirect_is_not_followed(tmp_path: Path) -> None:
    moved = Receiver(status=302)
    svc = _service(tmp_path, watch__webhook_attempts=1)
    try:
        wid = _noticed(svc, moved.url)
        assert deliver_due(svc) == 0
        assert [p for p, _ in moved.posts] == ["/hook"]
        assert _state(svc, wid) == "failed"
    finally:
        svc.close()
        moved.close()


def test_a_slow_receiver_is_cut_off_at_the_timeout(tmp_path: Path) -> None:
    slow = Receiver(delay=3.0)
    svc = _service(tmp_path, watch__webhook_timeout=0.5, watch__webhook_attempts=1)
    try:
        wid = _noticed(svc, slow.url)
        started = time.monotonic()
        assert deliver_due(svc) == 0
        assert time.monotonic() - started < 2.5
        assert _state(svc, wid) == "failed"
    finally:
        svc.close()
        slow.close()


def test_a_private_address_is_refused_without_the_allow_list(
    tmp_path: Path, receiver: Receiver
) -> None:
    svc = _service(tmp_path, watch__webhook_allow_hosts="")
    try:
        wid = _noticed(svc, receiver.url)  # stored as is: the API refuses it (test_watches.py)
        assert deliver_due(svc) == 0
        assert receiver.posts == []
        assert _state(svc, wid) == "failed"  # at once: trying again cannot help
        (error,) = svc.watches.store._db.execute(
            "SELECT hook_error FROM watch_notices").fetchone()
        assert "loopback" in error and "NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS" in error
    finally:
        svc.close()


def test_the_background_round_asks_and_delivers(
    tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Changes made elsewhere (here: an ingest whose own check is skipped) are picked up by the
    server's round, and what it notices is delivered, within a few rounds."""
    svc = _service(tmp_path, watch__check_seconds=0.2)
    stop = threading.Event()
    try:
        watch = svc.watches.add(QUESTION, webhook=receiver.url)
        with monkeypatch.context() as m:
            m.setattr(svc, "check_watches", lambda: 0)
            svc.ingest_records([BRIDGE])
        assert svc.watches.notices(watch.id) == []
        thread = start_watching(svc, stop)
        deadline = time.monotonic() + 20
        while not receiver.posts and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [b["notice"]["kind"] for _, b in receiver.posts] == ["first"]
        stop.set()
        thread.join(10)
        assert not thread.is_alive()
    finally:
        stop.set()
        svc.close()
