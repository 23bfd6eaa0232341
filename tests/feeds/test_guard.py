"""The address guard of every feed request: refused ranges, numeric host forms, the
allow-list."""

from __future__ import annotations

import ipaddress

import pytest

from newsqa.feeds.guard import (
    AllowList,
    BlockedAddress,
    FeedURLError,
    check_public,
    check_url,
    first_allowed,
    numeric_host,
    refused,
)
from newsqa.settings import get_settings


@pytest.mark.parametrize("address, why", [
    ("127.0.0.1", "loopback"), ("::1", "loopback"), ("::ffff:127.0.0.1", "loopback"),
    ("10.1.2.3", "private"), ("192.168.0.10", "private"), ("172.16.5.4", "private"),
    ("169.254.169.254", "link-local"), ("fe80::1", "link-local"), ("fd00::1", "private"),
    ("0.0.0.0", "this-network"), ("224.0.0.1", "multicast"), ("100.64.0.1", "shared (CGNAT)"),
    ("100.127.255.254", "shared (CGNAT)"), ("255.255.255.255", "reserved"),
    ("198.18.0.1", "benchmarking"), ("192.0.2.1", "documentation"),
    ("::ffff:169.254.169.254", "link-local"), ("::ffff:a9fe:a9fe", "link-local"),
    ("::127.0.0.1", "IPv4-compatible"), ("64:ff9b::7f00:1", "loopback"),
    ("64:ff9b::a9fe:a9fe", "link-local"), ("2002:7f00:1::1", "6to4"), ("2002:5db8:d822::1", "6to4"),
    ("fec0::1", "site-local"), ("2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo"),
    ("2001:db8::1", "documentation"), ("ff02::1", "multicast"), ("::", "unspecified"),
])
def test_refused_addresses(address: str, why: str) -> None:
    assert refused(ipaddress.ip_address(address)) == why


@pytest.mark.parametrize("address", [
    "93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34",
    "64:ff9b::5db8:d822", "2a00:1450:4001:80b::200e",
])
def test_public_addresses(address: str) -> None:
    assert refused(ipaddress.ip_address(address)) is None


@pytest.mark.parametrize("url", [
    "http://127.0.0.1:8000/feed.xml", "http://[::1]/rss", "http://localhost/rss",
    "https://169.254.169.254/latest/meta-data/", "http://10.0.0.7/feed",
    "http://[::ffff:7f00:1]/feed", "http://[2002:a9fe:a9fe::1]/", "http://100.64.1.1/rss",
])
def test_check_public_refuses_this_machine_and_private_networks(url: str) -> None:
    with pytest.raises(FeedURLError, match="NEWSQA_FEEDS__ALLOW_HOSTS"):
        check_public(url)


@pytest.mark.parametrize("host", [
    "127.1", "2130706433", "0x7f000001", "0177.0.0.1", "127.000.000.001", "0x7f.1", "127.0.1",
])
def test_numeric_forms_of_loopback_are_refused_wherever_a_feed_is_added(host: str) -> None:
    assert numeric_host(host) == ipaddress.IPv4Address("127.0.0.1")
    with pytest.raises(FeedURLError, match="127.0.0.1 written in another form.*loopback"):
        check_url(f"http://{host}:8000/feed.xml")
    with pytest.raises(FeedURLError, match="loopback"):
        check_public(f"http://{host}:8000/feed.xml")


def test_a_public_address_in_a_numeric_form_is_refused_with_its_usual_form() -> None:
    with pytest.raises(FeedURLError, match="write it as 93.184.216.34"):
        check_url("http://1572395042/feed.xml")
    assert numeric_host("news.example.com") is None and numeric_host("1e3") is None


def test_the_allow_list_admits_what_it_names_and_nothing_else() -> None:
    allow = AllowList.parse(" 127.0.0.1, news.lan  10.9.0.0/16,[::1] ")
    assert allow.names == {"news.lan"}
    ip = ipaddress.ip_address
    assert first_allowed("127.0.0.1", [ip("127.0.0.1")], allow) == ip("127.0.0.1")
    assert first_allowed("x", [ip("10.9.3.4")], allow) == ip("10.9.3.4")
    assert first_allowed("news.lan.", [ip("192.168.1.1")], allow) == ip("192.168.1.1")
    for host, address in (("127.0.0.2", "127.0.0.2"), ("meta", "169.254.169.254"),
                          ("x", "10.8.0.1")):
        with pytest.raises(BlockedAddress, match="NEWSQA_FEEDS__ALLOW_HOSTS"):
            first_allowed(host, [ip(address)], allow)
    check_public("http://127.0.0.1:8000/feed.xml", "127.0.0.1")
    check_public("http://localhost/rss", "localhost")
    with pytest.raises(FeedURLError):
        check_public("http://localhost/rss", "127.0.0.1")  # the name is not listed
    with pytest.raises(ValueError, match="not a host name"):
        AllowList.parse("10.0.0.0/33")


def test_the_allow_hosts_setting_is_checked_and_normalised() -> None:
    s = get_settings(feeds__allow_hosts="127.0.0.1  News.LAN,10.0.0.0/8")
    assert s.feeds.allow_hosts == "127.0.0.1, news.lan, 10.0.0.0/8"
    with pytest.raises(ValueError, match="not a host name"):
        get_settings(feeds__allow_hosts="http://x/")
    # the webhooks' allow-list is read by the same rule, when the settings are built
    w = get_settings(watch__webhook_allow_hosts="127.0.0.1  Hooks.LAN")
    assert w.watch.webhook_allow_hosts == "127.0.0.1, hooks.lan"
    with pytest.raises(ValueError, match="not a host name"):
        get_settings(watch__webhook_allow_hosts="http://x/")


@pytest.mark.parametrize("url", [
    "ftp://example.com/feed", "file:///etc/passwd", "example.com/feed", "http:///feed",
    "http://example.com:notaport/feed",
])
def test_check_url_wants_http_with_a_host(url: str) -> None:
    with pytest.raises(FeedURLError):
        check_url(url)


def test_check_url_strips() -> None:
    assert check_url("  https://example.com/rss \n") == "https://example.com/rss"
