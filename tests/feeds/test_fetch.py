"""Bounded requests against a real server on 127.0.0.1: time, size, redirects, robots.txt, the
per-host rate limit and the address guard."""

from __future__ import annotations

import time

import pytest

from newsqa.feeds.fetch import Blocked, Fetcher, FetchError, NotHTML
from newsqa.settings import get_settings
from tests.feeds.server import FeedServer


def fetcher(**settings: object) -> Fetcher:
    """A fast fetcher whose guard lets the local test server through (the allow-list)."""
    base: dict[str, object] = {"feeds__host_interval": 0.0, "feeds__timeout": 2.0,
                               "feeds__allow_hosts": "127.0.0.1"}
    return Fetcher(get_settings(**{**base, **settings}))


def test_plain_get_and_a_followed_redirect(srv: FeedServer) -> None:
    srv.set("/feed.xml", "<rss/>")
    srv.set("/old", status=301, headers={"Location": "/feed.xml"})
    f = fetcher()
    resp = f.get(srv.url("/old"))
    assert resp.status == 200 and resp.body == b"<rss/>" and resp.url == srv.url("/feed.xml")
    sent = srv.headers_of("/feed.xml")[0]
    assert sent["User-Agent"].startswith("newsqa/")
    assert sent["Accept-Encoding"] == "gzip, deflate"  # only what it can decode, bounded
    f.close()


def test_slower_than_the_timeout(srv: FeedServer) -> None:
    srv.set("/slow", "<rss/>", delay=3.0)
    f = fetcher(feeds__timeout=0.5)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="timed out after 0.5 s"):
        f.get(srv.url("/slow"))
    assert time.monotonic() - t0 < 2.5
    f.close()


@pytest.mark.parametrize("chunked", [False, True])
def test_body_past_the_cap(srv: FeedServer, chunked: bool) -> None:
    srv.set("/big", b"x" * 300_000, chunked=chunked)
    f = fetcher(feeds__max_bytes=100_000)
    with pytest.raises(FetchError, match="100,000"):
        f.get(srv.url("/big"))
    f.close()


def test_redirect_loop_and_too_many_redirects(srv: FeedServer) -> None:
    srv.set("/a", status=302, headers={"Location": "/b"})
    srv.set("/b", status=302, headers={"Location": "/a"})
    for i in range(8):
        srv.set(f"/r{i}", status=307, headers={"Location": f"/r{i + 1}"})
    f = fetcher(feeds__max_redirects=5)
    with pytest.raises(FetchError, match="redirect loop"):
        f.get(srv.url("/a"))
    assert srv.hits("/a") == 1 and srv.hits("/b") == 1
    with pytest.raises(FetchError, match="more than 5 redirects"):
        f.get(srv.url("/r0"))
    assert srv.hits("/r6") == 0
    f.close()


def test_robots_txt(srv: FeedServer) -> None:
    srv.set("/robots.txt", "User-agent: *\nDisallow: /private/\n\nUser-agent: newsqa\n"
            "Disallow: /nobots/\n", content_type="text/plain")
    f = fetcher()
    assert f.allowed(srv.url("/news/1"))
    assert not f.allowed(srv.url("/nobots/1"))  # the group naming this user agent wins
    assert f.allowed(srv.url("/private/1"))
    assert srv.hits("/robots.txt") == 1  # cached per site
    f.close()


@pytest.mark.parametrize("status, allowed", [(404, True), (403, True), (503, False)])
def test_robots_txt_missing_or_failing(srv: FeedServer, status: int, allowed: bool) -> None:
    srv.set("/robots.txt", "nope", status=status, content_type="text/plain")
    f = fetcher()
    assert f.allowed(srv.url("/news/1")) is allowed
    f.close()


def test_per_host_rate_limit(srv: FeedServer) -> None:
    srv.set("/feed.xml", "<rss/>")
    f = fetcher(feeds__host_interval=0.4)
    t0 = time.monotonic()
    for _ in range(3):
        f.get(srv.url("/feed.xml"))
    assert time.monotonic() - t0 >= 0.8
    f.close()


def test_guard_refuses_loopback_before_any_request(srv: FeedServer) -> None:
    srv.set("/feed.xml", "<rss/>")
    srv.set("/robots.txt", "User-agent: *\nDisallow:\n", content_type="text/plain")
    f = fetcher(feeds__allow_hosts="")
    with pytest.raises(Blocked, match="loopback address: the feed address guard"):
        f.get(srv.url("/feed.xml"))  # guarded by default
    with pytest.raises(Blocked, match="loopback"):
        f.allowed(srv.url("/news/1"))  # the guard is named, not robots.txt
    assert srv.hits("/feed.xml") == srv.hits("/robots.txt") == 0
    assert f.get(srv.url("/feed.xml"), guarded=False).status == 200  # the guard off
    f.close()
    f = fetcher()  # 127.0.0.1 on the allow-list
    assert f.get(srv.url("/feed.xml")).status == 200 and f.allowed(srv.url("/news/1"))
    with pytest.raises(Blocked, match="127.0.0.2 is a loopback address"):
        f.get(srv.url("/feed.xml").replace("127.0.0.1", "127.0.0.2"))  # only what is listed
    f.close()


def test_guard_refuses_private_addresses_without_connecting() -> None:
    f = fetcher(feeds__timeout=1.0)
    t0 = time.monotonic()
    with pytest.raises(FetchError, match="private"):
        f.get("http://10.255.255.1/feed.xml")  # would hang until the timeout
    with pytest.raises(FetchError, match="link-local"):
        f.get("http://169.254.169.254/latest/meta-data/")
    assert time.monotonic() - t0 < 0.5
    f.close()


def test_a_redirect_to_a_private_address_is_refused_at_its_hop(srv: FeedServer) -> None:
    srv.set("/feed.xml", status=302,
            headers={"Location": "http://169.254.169.254/latest/meta-data/"})
    srv.set("/v6", status=302, headers={"Location": "http://[::ffff:a9fe:a9fe]/latest/"})
    f = fetcher()
    with pytest.raises(Blocked, match="169.254.169.254 is a link-local address"):
        f.get(srv.url("/feed.xml"))
    with pytest.raises(Blocked, match="link-local"):
        f.get(srv.url("/v6"))
    f.close()


@pytest.mark.parametrize("host", ["127.1", "2130706433", "0x7f000001", "0177.0.0.1",
                                  "127.000.000.001"])
def test_numeric_forms_of_loopback_are_a_clear_error(srv: FeedServer, host: str) -> None:
    srv.set("/feed.xml", "<rss/>")
    f = fetcher(feeds__allow_hosts="")
    with pytest.raises(FetchError) as err:
        f.get(srv.url("/feed.xml").replace("127.0.0.1", host))
    assert "loopback" in str(err.value) or "not a URL" in str(err.value)
    assert srv.hits("/feed.xml") == 0
    f.close()


def test_an_article_page_must_be_html(srv: FeedServer) -> None:
    srv.set("/creds", '{"AccessKeyId": "AKIA"}', content_type="text/plain")
    srv.set("/json", "{}", content_type="application/json")
    srv.set("/none", "x", content_type="")
    srv.set("/page", "<html><p>x</p></html>", content_type="text/html; charset=utf-8")
    f = fetcher()
    for path in ("/creds", "/json", "/none"):
        with pytest.raises(NotHTML, match="not an HTML page"):
            f.get(srv.url(path), page=True)
    assert f.get(srv.url("/page"), page=True).body.startswith(b"<html>")
    assert f.get(srv.url("/creds")).status == 200  # a feed or robots.txt may be plain text
    f.close()
