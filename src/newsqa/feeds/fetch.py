"""HTTP for feeds: bounded GET requests, a per-host rate limit and robots.txt.

Every request has an absolute time limit for the whole of it (``NEWSQA_FEEDS__TIMEOUT``: name
look-up, connecting, the response head and the body, so a server that trickles bytes or sends
interim responses for ever is cut off too; :mod:`newsqa.feeds.net`) and ends within a fraction
of a second when the fetcher is stopped. Its body is capped before and after decompression
(``NEWSQA_FEEDS__MAX_BYTES``), decoded by :mod:`newsqa.feeds.decode` (gzip or deflate, one
layer). It follows at most ``NEWSQA_FEEDS__MAX_REDIRECTS`` redirects (a loop is reported at its
first repeat) and waits its turn behind the previous request to the same host
(``NEWSQA_FEEDS__HOST_INTERVAL``). Every request goes through the address guard of
:mod:`newsqa.feeds.guard` unless the caller says otherwise (``NEWSQA_FEEDS__ALLOW_PRIVATE``).
An article page must be HTML. Proxies named in the environment are not used (a proxy would
connect where the guard cannot see). Failures are :class:`FetchError` with a reason a person
can act on; :class:`Blocked` when the guard refused the address.
"""

from __future__ import annotations

import logging
import threading
import time
import urllib.robotparser
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
import httpx

from newsqa.feeds.decode import ACCEPT_ENCODING, BoundedDecoder, ContentError
from newsqa.feeds.guard import AllowList, BlockedAddress, GuardedBackend
from newsqa.feeds.net import BoundedBackend, Interrupted, limits
from newsqa.settings import Settings

log = logging.getLogger("newsqa.feeds")

REDIRECTS = (301, 302, 303, 307, 308)
ROBOTS_MAX_BYTES = 512_000
ROBOTS_TTL_S = 3600.0
ROBOTS_RETRY_S = 300.0  # an unreachable robots.txt is asked again after this
MAX_CRAWL_DELAY_S = 60.0
PAGE_TYPES = ("text/html", "application/xhtml+xml")


class FetchError(Exception):
    """A request that failed; the message says why (timed out, too large, a redirect loop…)."""


class Blocked(FetchError):
    """A request the address guard refused (the message names the address and the setting)."""


class NotHTML(FetchError):
    """An article page answered with a body that is not HTML (plain text, JSON…): not read."""


class Stopped(Exception):
    """The fetcher was stopped while waiting for its turn."""


@dataclass
class Response:
    """A finished response: final URL after redirects, status, headers, body (empty for 304)."""

    url: str
    status: int
    headers: httpx.Headers
    body: bytes


def bounded_transport(backend: BoundedBackend) -> httpx.HTTPTransport:
    """An httpx transport whose connections go through ``backend`` (bounded, and guarded where
    it is a :class:`~newsqa.feeds.guard.GuardedBackend`): feeds' and webhooks' requests."""
    transport = httpx.HTTPTransport(trust_env=False)
    pool = getattr(transport, "_pool", None)
    if not isinstance(pool, httpcore.ConnectionPool) or not hasattr(pool, "_network_backend"):
        raise RuntimeError("this httpx/httpcore version cannot take the feed network backend")
    pool._network_backend = backend
    return transport


def host_of(url: str) -> str:
    """The ``host:port`` a request for ``url`` goes to (the rate limit's key)."""
    parts = urlsplit(url)
    return f"{(parts.hostname or '').lower()}:{parts.port or ''}"


class Fetcher:
    """Bounded GETs with a per-host rate limit and a robots.txt cache; thread-safe.

    ``stop`` (an Event) ends waits for a turn early with :class:`Stopped`; ``clock`` and
    ``sleep`` are injectable for tests.
    """

    def __init__(
        self,
        settings: Settings,
        stop: threading.Event | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        s = settings.feeds
        self.timeout = s.timeout
        self.max_bytes = s.max_bytes
        self.max_redirects = s.max_redirects
        self.host_interval = s.host_interval
        self.user_agent = s.user_agent
        self.robot_name = s.user_agent.split("/")[0].split()[0] or "newsqa"
        self.allow = AllowList.parse(s.allow_hosts)
        self.stop = stop or threading.Event()
        self.clock = clock
        self._lock = threading.Lock()
        self._clients: dict[bool, httpx.Client] = {}
        self._next: dict[str, float] = {}
        self._crawl_delay: dict[str, float] = {}
        self._robots: dict[str, tuple[float, urllib.robotparser.RobotFileParser]] = {}
        #: Requests sent (each redirect hop counts), for tests and logs.
        self.requests = 0

    def close(self) -> None:
        """Close the connection pools."""
        with self._lock:
            clients, self._clients = list(self._clients.values()), {}
        for c in clients:
            c.close()

    def _client(self, guarded: bool) -> httpx.Client:
        with self._lock:
            if guarded not in self._clients:
                backend = GuardedBackend(self.allow) if guarded else BoundedBackend()
                if not guarded:
                    log.warning("feed requests without the address guard "
                                "(NEWSQA_FEEDS__ALLOW_PRIVATE=true): any feed or item link may "
                                "reach this machine and its private network")
                self._clients[guarded] = httpx.Client(
                    transport=bounded_transport(backend), trust_env=False,
                    follow_redirects=False,
                    headers={"User-Agent": self.user_agent, "Accept-Encoding": ACCEPT_ENCODING},
                )
            return self._clients[guarded]

    def _wait_turn(self, url: str, pages: bool) -> None:
        host = host_of(url)
        with self._lock:
            now = self.clock()
            at = max(now, self._next.get(host, 0.0))
            gap = self.host_interval
            if pages:
                gap = max(gap, self._crawl_delay.get(host, 0.0))
            self._next[host] = at + gap
        if at > now and self.stop.wait(at - now):
            raise Stopped()
        if self.stop.is_set():
            raise Stopped()

    def get(
        self,
        url: str,
        headers: dict[str, str] | None = None,
        *,
        guarded: bool = True,
        max_bytes: int | None = None,
        page: bool = False,
    ) -> Response:
        """GET ``url``, following redirects; raises FetchError for a failure (Blocked where the
        address guard refused), Stopped when stopped. ``guarded``: through the address guard
        (its allow-list admitting). ``page``: an article page (robots.txt's Crawl-delay
        applies to its host, and a 2xx answer that is not HTML is refused)."""
        limit = max_bytes or self.max_bytes
        seen = {url}
        for hop in range(self.max_redirects + 1):
            self._wait_turn(url, page)
            resp = self._once(url, headers or {}, guarded, limit, page)
            location = resp.headers.get("location")
            if resp.status not in REDIRECTS or not location:
                return resp
            target = urljoin(url, location.strip())
            if urlsplit(target).scheme.lower() not in ("http", "https"):
                raise FetchError(f"redirect to a non-HTTP URL: {target[:200]}")
            if target in seen:
                raise FetchError(f"redirect loop: {url} redirects back to {target}")
            if hop == self.max_redirects:
                raise FetchError(f"more than {self.max_redirects} redirects (last to {target})")
            seen.add(target)
            url = target
        raise AssertionError("unreachable")

    def _once(
        self, url: str, headers: dict[str, str], guarded: bool, limit: int, page: bool
    ) -> Response:
        deadline = self.clock() + self.timeout
        self.requests += 1
        try:
            with limits(time.monotonic() + self.timeout, self.stop), self._client(guarded).stream(
                "GET", url, headers=headers, timeout=httpx.Timeout(self.timeout)
            ) as r:
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > limit:
                    raise FetchError(f"body is {int(declared):,} bytes; the limit is {limit:,}")
                if r.status_code in REDIRECTS or r.status_code == 304:
                    return Response(str(r.url), r.status_code, r.headers, b"")
                if page and 200 <= r.status_code < 300:
                    ctype = r.headers.get("content-type", "").split(";")[0].strip().lower()
                    if ctype not in PAGE_TYPES:
                        raise NotHTML(f"not an HTML page ({ctype or 'no content type'})")
                decoder = BoundedDecoder(r.headers.get("content-encoding", ""), limit)
                body = bytearray()
                for block in r.iter_raw():
                    body += decoder.feed(block)
                    if self.clock() > deadline:
                        raise FetchError(f"timed out after {self.timeout:g} s (while reading)")
                body += decoder.flush()
                return Response(str(r.url), r.status_code, r.headers, bytes(body))
        except ContentError as exc:
            raise FetchError(str(exc)) from None
        except httpx.TimeoutException:
            raise FetchError(f"timed out after {self.timeout:g} s") from None
        except httpx.HTTPError as exc:
            cause = exc.__cause__
            if isinstance(cause, Interrupted) or self.stop.is_set():
                raise Stopped() from None
            if isinstance(cause, BlockedAddress):
                raise Blocked(str(cause)) from None
            raise FetchError(f"{type(exc).__name__}: {exc}") from None
        except httpx.InvalidURL as exc:
            raise FetchError(f"not a URL httpx can request ({exc}): {url[:200]}") from None

    # ------------------------------------------------------------------ robots.txt
    def allowed(self, url: str, guarded: bool = True) -> bool:
        """Whether robots.txt of ``url``'s site lets this user agent fetch it (RFC 9309: no
        robots.txt or a 4xx allows all; one that cannot be read (5xx, timeout) allows none,
        and is asked again after a few minutes). Blocked when the address guard refuses the
        site (then its pages could not be fetched either)."""
        parts = urlsplit(url)
        site = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
        now = self.clock()
        with self._lock:
            cached = self._robots.get(site)
        if cached is None or cached[0] <= now:
            cached = self._read_robots(site, guarded)
            with self._lock:
                self._robots[site] = cached
        return cached[1].can_fetch(self.robot_name, url)

    def _read_robots(
        self, site: str, guarded: bool
    ) -> tuple[float, urllib.robotparser.RobotFileParser]:
        rp = urllib.robotparser.RobotFileParser(site + "/robots.txt")
        ttl = ROBOTS_TTL_S
        try:
            resp = self.get(site + "/robots.txt", guarded=guarded, max_bytes=ROBOTS_MAX_BYTES)
        except Blocked:
            raise  # the guard refused the site: the page's error says so, not robots.txt
        except FetchError:
            resp = None
        if resp is not None and 200 <= resp.status < 300:
            rp.parse(resp.body.decode("utf-8", "replace").splitlines())
            delay = rp.crawl_delay(self.robot_name)
            if delay:
                with self._lock:
                    self._crawl_delay[host_of(site)] = min(float(delay), MAX_CRAWL_DELAY_S)
        elif resp is not None and 400 <= resp.status < 500:
            rp.parse([])  # no rules: everything allowed
        else:
            rp.parse(["User-agent: *", "Disallow: /"])
            ttl = ROBOTS_RETRY_S
        return self.clock() + ttl, rp
