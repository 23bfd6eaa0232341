"""Hostile servers on 127.0.0.1 against the fetcher: response heads trickled or flooded with
``102 Processing``, stalled TLS handshakes, decompression bombs, item links to a private
address, and a stop (SIGTERM) during a hung request."""

from __future__ import annotations

import gzip
import re
import shutil
import signal
import ssl
import subprocess
import threading
import time
import tracemalloc
import zlib
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from newsqa.feeds.fetch import Fetcher, FetchError, Stopped
from newsqa.feeds.guard import AllowList, GuardedBackend
from newsqa.feeds.net import limits
from newsqa.settings import get_settings
from newsqa.testing.hostile import (
    METADATA_PATH,
    HostileServer,
    bomb,
    fake_credentials,
    flood_102,
    free_listener,
    private_link_feed,
    respond,
    trickle,
)
from tests.feeds.conftest import Followed
from tests.support import hash_env, newsqa_command

BOMB_BYTES = 100_000_000  # what the bombs expand to; the cap below is 1 MB


def fetcher(stop: threading.Event | None = None, **settings: object) -> Fetcher:
    base: dict[str, object] = {"feeds__host_interval": 0.0, "feeds__timeout": 1.0,
                               "feeds__allow_hosts": "127.0.0.1"}
    return Fetcher(get_settings(**{**base, **settings}), stop)


def timed(call: Callable[[], object]) -> tuple[float, BaseException | None]:
    t0 = time.monotonic()
    try:
        call()
    except (FetchError, Stopped) as exc:
        return time.monotonic() - t0, exc
    return time.monotonic() - t0, None


@pytest.mark.parametrize("handler", [trickle(0.2), flood_102(0.1)], ids=["trickle", "102"])
def test_the_time_limit_covers_the_response_head(handler: Callable[..., None]) -> None:
    with HostileServer({"/feed.xml": handler}, lifetime=30, hold=15) as srv:
        f = fetcher()
        took, exc = timed(lambda: f.get(srv.url("/feed.xml")))
        f.close()
    assert isinstance(exc, FetchError) and "timed out after 1 s" in str(exc)
    assert took < 1.8, took  # the server would go on for 15 s


def test_a_stalled_tls_handshake_keeps_to_the_deadline_and_the_stop() -> None:
    sock, port = free_listener()  # connects, never accepts: the handshake waits
    try:
        f = fetcher()
        took, exc = timed(lambda: f.get(f"https://127.0.0.1:{port}/feed.xml"))
        assert isinstance(exc, FetchError) and "timed out" in str(exc) and took < 1.8
        stop = threading.Event()
        f = fetcher(stop, feeds__timeout=30.0)
        threading.Timer(0.5, stop.set).start()
        took, exc = timed(lambda: f.get(f"https://127.0.0.1:{port}/feed.xml"))
        assert isinstance(exc, Stopped) and took < 1.5, (took, exc)
    finally:
        sock.close()


def test_a_stop_ends_a_hung_request_at_once() -> None:
    with HostileServer({"/feed.xml": trickle(0.2)}, lifetime=30, hold=15) as srv:
        stop = threading.Event()
        f = fetcher(stop, feeds__timeout=30.0)
        threading.Timer(0.5, stop.set).start()
        took, exc = timed(lambda: f.get(srv.url("/feed.xml")))
        f.close()
    assert isinstance(exc, Stopped) and took < 1.5, (took, exc)


@pytest.mark.parametrize("layers, error", [
    (1, r"over the 1,000,000-byte limit \(after gzip decoding\)"),
    (2, r"stacked content encodings are refused \(gzip, gzip\)"),
])
def test_decompression_bombs_stay_within_the_cap(layers: int, error: str) -> None:
    handler = bomb(BOMB_BYTES, layers)  # built before memory is traced
    with HostileServer({"/feed.xml": handler}, lifetime=60) as srv:
        f = fetcher(feeds__max_bytes=1_000_000, feeds__timeout=20.0)
        tracemalloc.start()
        try:
            took, exc = timed(lambda: f.get(srv.url("/feed.xml")))
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
            f.close()
    assert isinstance(exc, FetchError) and re.search(error, str(exc)), exc
    assert peak < 8_000_000, f"peak {peak:,} bytes traced"
    assert took < 10


def test_encoded_bodies_are_read_and_unknown_codings_refused() -> None:
    text = b"<rss>" + b"news " * 20_000 + b"</rss>"
    raw = zlib.compressobj(6, zlib.DEFLATED, -zlib.MAX_WBITS)
    routes = {
        "/gzip": respond(headers={"Content-Encoding": "gzip"}, body=gzip.compress(text)),
        "/deflate": respond(headers={"Content-Encoding": "deflate"}, body=zlib.compress(text)),
        "/raw": respond(headers={"Content-Encoding": "Deflate"},
                        body=raw.compress(text) + raw.flush()),
        "/identity": respond(headers={"Content-Encoding": "identity"}, body=text),
        "/br": respond(headers={"Content-Encoding": "br"}, body=b"\x1b\x00"),
        "/zstd": respond(headers={"Content-Encoding": "zstd"}, body=b"x"),
        "/bad": respond(headers={"Content-Encoding": "gzip"}, body=b"not gzip at all"),
    }
    with HostileServer(routes, lifetime=30) as srv:
        f = fetcher()
        for path in ("/gzip", "/deflate", "/raw", "/identity"):
            assert f.get(srv.url(path)).body == text, path
        for path, error in (("/br", "unsupported content encoding 'br'"),
                            ("/zstd", "unsupported content encoding 'zstd'"),
                            ("/bad", "not valid gzip")):
            with pytest.raises(FetchError, match=error):
                f.get(srv.url(path))
        f.close()


def test_item_links_of_a_command_line_feed_may_not_reach_this_machine(
    follow: Callable[..., Followed],
) -> None:
    """The feed is the operator's (its host is on the allow-list, by name); its item links to
    a fake metadata service on 127.0.0.1, which is not: neither the page nor its robots.txt is
    asked for, and the problem names the guard."""
    routes = {METADATA_PATH: fake_credentials()}
    with HostileServer(routes, lifetime=60) as srv:
        routes["/feed.xml"] = private_link_feed(srv.url(METADATA_PATH))
        feed = srv.url("/feed.xml").replace("127.0.0.1", "localhost")
        svc, _, poller = follow(feed, added_by="cli", feeds__allow_hosts="localhost")
        (res,) = poller.poll_all()
        assert srv.hits.get("/feed.xml") == 1
        assert srv.hits.get(METADATA_PATH) is None and srv.hits.get("/robots.txt") is None
    (problem,) = res.problems
    assert "127.0.0.1 is a loopback address: the feed address guard refuses it" in problem
    assert "robots.txt" not in problem
    found = svc.search("AKIAFAKE secret credentials", k=5)
    assert "AKIAFAKE" not in str(found)


def test_follow_exits_promptly_on_sigterm_during_a_hung_request(tmp_path: Path) -> None:
    with HostileServer({"/feed.xml": trickle(0.2)}, lifetime=90, hold=30) as srv:
        env = hash_env(feeds__host_interval="0", feeds__timeout="60",
                       feeds__allow_hosts="127.0.0.1")
        proc = subprocess.Popen(newsqa_command(tmp_path / "idx", "follow", srv.url("/feed.xml")),
                                env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while not srv.hits.get("/feed.xml") and time.monotonic() < deadline:
                time.sleep(0.05)
            assert srv.hits.get("/feed.xml") == 1, "the follower never asked for the feed"
            time.sleep(0.5)  # the request is under way, its head trickling in
            t0 = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            proc.wait(timeout=40)
            took = time.monotonic() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
    assert took < 3.0, f"{took:.1f} s to exit"


@pytest.mark.skipif(shutil.which("openssl") is None, reason="needs the openssl command")
def test_tls_through_the_bounded_backend(tmp_path: Path) -> None:
    """A real TLS server (a self-signed certificate made here): requests through the guarded,
    bounded backend succeed; the fetcher's own verification refuses the unknown certificate."""
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                    str(key), "-out", str(cert), "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True,
                   timeout=60)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    body = b"<rss>" + b"x" * 50_000 + b"</rss>"
    with HostileServer({"/feed.xml": respond(body=body)}, lifetime=30,
                       tls=server_ctx) as srv:
        url = srv.url("/feed.xml").replace("http:", "https:")
        transport = httpx.HTTPTransport(verify=ssl.create_default_context(cafile=str(cert)))
        transport._pool._network_backend = GuardedBackend(AllowList.parse("127.0.0.1"))
        with httpx.Client(transport=transport) as client:
            for _ in range(2):
                with limits(time.monotonic() + 5):
                    assert client.get(url).content == body
        f = fetcher()
        with pytest.raises(FetchError, match="CERTIFICATE_VERIFY_FAILED"):
            f.get(url)
        f.close()
