"""Hostile HTTP servers on 127.0.0.1 for the feed follower's tests and ``bench/hostile_feeds.py``:
a response head trickled a byte at a time, ``102 Processing`` for ever, a silent peer,
decompression bombs (one gzip layer, or two stacked), a feed whose items link to a private
address. Raw sockets, so that they can break HTTP the way an attacker would. Every server binds
127.0.0.1 only, stops itself after ``lifetime`` seconds or ``max_connections`` connections, and
every handler gives up after ``hold`` seconds.
"""

from __future__ import annotations

import socket
import ssl
import struct
import threading
import time
import zlib
from collections.abc import Callable

#: A route: writes what it likes to the connection while ``alive()`` holds.
Handler = Callable[[socket.socket, Callable[[], bool]], None]
METADATA_PATH = "/latest/meta-data/iam/security-credentials/role"


def respond(status: str = "200 OK", headers: dict[str, str] | None = None,
            body: bytes = b"") -> Handler:
    """A handler answering one whole response (Content-Length set)."""
    head = f"HTTP/1.1 {status}\r\nContent-Length: {len(body)}\r\nConnection: close\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items()) + "\r\n"
    data = head.encode() + body

    def handle(conn: socket.socket, alive: Callable[[], bool]) -> None:
        conn.sendall(data)

    return handle


def trickle(interval: float = 0.2) -> Handler:
    """A handler sending a response head one byte every ``interval`` seconds: a status line,
    then header lines for ever (each short, so no header size limit is reached)."""
    head, pad = b"HTTP/1.1 200 OK\r\nContent-Type: application/rss+xml\r\n", b"X-Pad: y\r\n"

    def handle(conn: socket.socket, alive: Callable[[], bool]) -> None:
        i = 0
        while alive():
            byte = head[i:i + 1] if i < len(head) else pad[(i - len(head)) % len(pad):][:1]
            conn.sendall(byte)
            i += 1
            time.sleep(interval)

    return handle


def flood_102(interval: float = 0.1) -> Handler:
    """A handler sending ``102 Processing`` interim responses for ever."""
    def handle(conn: socket.socket, alive: Callable[[], bool]) -> None:
        while alive():
            conn.sendall(b"HTTP/1.1 102 Processing\r\n\r\n")
            time.sleep(interval)

    return handle


def silent() -> Handler:
    """A handler that reads and says nothing (a stalled TLS handshake, a hung server)."""
    def handle(conn: socket.socket, alive: Callable[[], bool]) -> None:
        while alive():
            time.sleep(0.05)

    return handle


def gzip_bytes(size: int) -> bytes:
    """``size`` zero bytes gzipped (about 1,000 to 1), made in a blink: after a full flush the
    compressor forgets what came before, so each compressed MiB of zeros is the same bytes."""
    block = bytes(1 << 20)
    n, rest = divmod(size, len(block))
    z = zlib.compressobj(9, zlib.DEFLATED, -zlib.MAX_WBITS)
    one = z.compress(block) + z.flush(zlib.Z_FULL_FLUSH)
    tail = z.compress(block[:rest]) + z.flush()
    crc = 0
    for _ in range(n):
        crc = zlib.crc32(block, crc)
    crc = zlib.crc32(block[:rest], crc)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    return header + one * n + tail + struct.pack("<II", crc, size & 0xFFFFFFFF)


def gzip_once(data: bytes) -> bytes:
    """``data`` gzipped once more."""
    z = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    return z.compress(data) + z.flush()


def bomb(size: int, layers: int = 1) -> Handler:
    """A handler sending ``size`` zero bytes compressed as ``layers`` stacked gzip layers
    (``Content-Encoding: gzip, gzip`` for two)."""
    body = gzip_bytes(size)
    for _ in range(layers - 1):
        body = gzip_once(body)
    return respond(headers={"Content-Type": "application/rss+xml",
                            "Content-Encoding": ", ".join(["gzip"] * layers)}, body=body)


def private_link_feed(link: str) -> Handler:
    """A handler answering an RSS feed of one teaser item whose link is ``link``."""
    rss = ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>'
           f"<link>https://news.example.com/</link><description>d</description><item>"
           f"<title>Credentials</title><link>{link}</link><guid>{link}</guid>"
           "<pubDate>Mon, 02 Jan 2023 10:00:00 GMT</pubDate>"
           "<description>A teaser.</description></item></channel></rss>")
    return respond(headers={"Content-Type": "application/rss+xml"}, body=rss.encode())


def fake_credentials() -> Handler:
    """A handler answering what a cloud metadata service would (fake keys, as plain text)."""
    return respond(headers={"Content-Type": "text/plain"},
                   body=b'{"AccessKeyId": "AKIAFAKE", "SecretAccessKey": "fake-secret"}')


class HostileServer:
    """``with HostileServer({"/path": handler}) as s: s.url("/path")``; ``s.hits`` counts
    requests per path. Stops itself after ``lifetime`` s or ``max_connections``; each
    handler is cut off after ``hold`` s. ``tls``: a server context to speak HTTPS with."""

    def __init__(self, routes: dict[str, Handler], lifetime: float = 120.0,
                 max_connections: int = 100, hold: float = 30.0,
                 tls: ssl.SSLContext | None = None) -> None:
        self.routes = routes
        self.tls = tls
        self.hits: dict[str, int] = {}
        self.hold = hold
        self.max_connections = max_connections
        self._stop = threading.Event()
        self._end = time.monotonic() + lifetime
        self._sock = socket.socket()
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(16)
        self._sock.settimeout(0.1)
        self.port = int(self._sock.getsockname()[1])
        self._thread = threading.Thread(target=self._serve, name="hostile", daemon=True)

    def __enter__(self) -> HostileServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        """Stop accepting and end every handler."""
        self._stop.set()
        self._thread.join(5)
        self._sock.close()

    def url(self, path: str) -> str:
        """The full URL of ``path``."""
        return f"http://127.0.0.1:{self.port}{path}"

    def _serve(self) -> None:
        served = 0
        while not self._stop.is_set() and time.monotonic() < self._end:
            try:
                conn, _ = self._sock.accept()
            except (TimeoutError, OSError):
                continue
            served += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()
            if served >= self.max_connections:
                break

    def _handle(self, conn: socket.socket) -> None:
        end = min(time.monotonic() + self.hold, self._end)

        def alive() -> bool:
            return not self._stop.is_set() and time.monotonic() < end

        try:
            conn.settimeout(5.0)
            if self.tls is not None:
                conn = self.tls.wrap_socket(conn, server_side=True)
            head = b""
            while b"\r\n\r\n" not in head and len(head) < 16_384:
                got = conn.recv(4096)
                if not got:
                    return
                head += got
            parts = head.split(b" ", 2)
            path = parts[1].decode("latin-1") if len(parts) > 1 else "/"
            self.hits[path] = self.hits.get(path, 0) + 1
            handler = self.routes.get(path) or respond("404 Not Found", body=b"no")
            handler(conn, alive)
        except OSError:
            pass  # the client gave up: what a hostile server expects
        finally:
            conn.close()


def free_listener() -> tuple[socket.socket, int]:
    """A listening socket on 127.0.0.1 that never accepts (connections wait in its backlog)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(1)
    return sock, int(sock.getsockname()[1])
