"""The address guard of feeds added over HTTP."""

from __future__ import annotations

import ipaddress

import pytest

from newsqa.feeds.guard import FeedURLError, check_public, check_url, refused


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fd00::1", "private"),
    ("0.0.0.0", "private"), ("224.0.0.1", "multicast"), ("100.64.0.1", "non-public"),
])
def test_refused_addresses(address: str, why: str) -> None:
    assert refused(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"])
def test_public_addresses(address: str) -> None:
    assert refused(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/feed.xml", "http://[::1]/rss", "http://localhost/rss",
    "https://169.254.169.254/latest/meta-data/", "http://10.0.0.7/feed",
])
def test_check_public_refuses_this_machine_and_private_networks(url: str) -> None:
    with pytest.raises(FeedURLError, match="NEWSQA_FEEDS__ALLOW_PRIVATE"):
        check_public(url)


@pytest.mark.parametrize("url", [
    "ftp://example.com/feed", "file:///etc/passwd", "example.com/feed", "http:///feed",
    "http://example.com:notaport/feed",
])
def test_check_url_wants_http_with_a_host(url: str) -> None:
    with pytest.raises(FeedURLError):
        check_url(url)


def test_check_url_strips() -> None:
    assert check_url("  https://example.com/rss \n") == "https://example.com/rss"
