"""A real HTTP server on 127.0.0.1 for the feed tests: routes set per test, requests logged."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Route:
    """What the server answers for one path."""

    body: bytes = b""
    status: int = 200
    content_type: str = "application/rss+xml"
    etag: str | None = None
    last_modified: str | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    chunked: bool = False  # no Content-Length: the body is streamed in pieces


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def handle_error(self, request: Any, client_address: Any) -> None:
        pass  # a client that gave up (a timeout test) is not an error here


class FeedServer:
    """``with FeedServer() as srv: srv.set("/feed.xml", body=...); srv.url("/feed.xml")``."""

    def __init__(self) -> None:
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, dict[str, str]]] = []
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                with server.lock:
                    server.requests.append((self.path, dict(self.headers.items())))
                    route = server.routes.get(self.path)
                if route is None:
                    self._send(404, {"Content-Type": "text/plain"}, b"not found")
                    return
                if route.delay:
                    time.sleep(route.delay)
                headers = {"Content-Type": route.content_type, **route.headers}
                if route.etag:
                    headers["ETag"] = route.etag
                if route.last_modified:
                    headers["Last-Modified"] = route.last_modified
                match = route.etag and self.headers.get("If-None-Match") == route.etag
                since = route.last_modified and (
                    self.headers.get("If-Modified-Since") == route.last_modified)
                if route.status == 200 and (match or since):
                    self._send(304, {k: v for k, v in headers.items() if k != "Content-Type"}, b"")
                    return
                self._send(route.status, headers, route.body, route.chunked)

            def _send(self, status: int, headers: dict[str, str], body: bytes,
                      chunked: bool = False) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                if chunked:
                    self.send_header("Transfer-Encoding", "chunked")
                    self.end_headers()
                    for i in range(0, len(body), 16_384):
                        piece = body[i:i + 16_384]
                        self.wfile.write(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
                    self.wfile.write(b"0\r\n\r\n")
                    return
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if status != 304:
                    self.wfile.write(body)

        self.httpd = _Server(("127.0.0.1", 0), Handler)
        self.port = int(self.httpd.server_address[1])
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FeedServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(5)

    def url(self, path: str) -> str:
        """The full URL of ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def set(self, path: str, body: bytes | str = b"", **kw: Any) -> Route:
        """Answer ``path`` with this route from now on."""
        route = Route(body.encode() if isinstance(body, str) else body, **kw)
        with self.lock:
            self.routes[path] = route
        return route

    def hits(self, path: str) -> int:
        """How many requests ``path`` got."""
        with self.lock:
            return sum(1 for p, _ in self.requests if p == path)

    def headers_of(self, path: str) -> list[dict[str, str]]:
        """The request headers of every request for ``path``."""
        with self.lock:
            return [h for p, h in self.requests if p == path]


def http_date(ts: float) -> str:
    """An HTTP date (Last-Modified)."""
    return formatdate(ts, usegmt=True)


def words(n: int, seed: int = 0) -> str:
    """``n`` words of made-up text (distinct per seed)."""
    vocab = ["harbour", "council", "rainfall", "budget", "bridge", "ferry", "school", "market",
             "museum", "festival", "election", "stadium", "railway", "library", "clinic"]
    return " ".join(f"{vocab[(i * 7 + seed) % len(vocab)]}{seed}" if i % 11 == 0
                    else vocab[(i * 3 + seed) % len(vocab)] for i in range(n)) + "."


def rss(
    items: list[dict[str, str]], title: str = "Test news", link: str = "https://news.example.com/"
) -> str:
    """An RSS 2.0 document; each item: guid, link, title, and description and/or content."""
    parts = []
    for it in items:
        content = (f"<content:encoded><![CDATA[{it['content']}]]></content:encoded>"
                   if it.get("content") else "")
        desc = f"<description>{it['description']}</description>" if it.get("description") else ""
        parts.append(
            f"<item><title>{it['title']}</title><link>{it['link']}</link>"
            f"<guid>{it.get('guid', it['link'])}</guid>"
            f"<pubDate>{it.get('date', 'Mon, 02 Jan 2023 10:00:00 GMT')}</pubDate>"
            f"{desc}{content}</item>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<rss version="2.0" xmlns:content="http://purl.org/rss/1.0/modules/content/">'
        f"<channel><title>{title}</title><link>{link}</link><description>x</description>"
        + "".join(parts) + "</channel></rss>"
    )


def page(title: str, text: str) -> str:
    """An article page whose main text trafilatura finds."""
    paras = "".join(f"<p>{s.strip()}.</p>" for s in text.split(".") if s.strip())
    return (f"<html><head><title>{title}</title></head><body><nav>Home | World | Sport</nav>"
            f"<article><h1>{title}</h1>{paras}</article><footer>Copyright</footer></body></html>")
