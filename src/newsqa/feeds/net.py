"""The sockets under feed requests: one absolute deadline per request, the response head included.

httpx's timeouts bound each socket operation, so a server that trickles its status line and
headers a byte at a time, or sends ``102 Processing`` interim responses for ever, could hold a
request as long as it liked. Here the deadline set by :func:`limits` around a request bounds
every step of it: the name look-up, the connect, the TLS handshake and each read and write. Waits
are cut into short slices, so a stop event (``newsqa follow`` on SIGTERM) ends a request within a
fraction of a second. :class:`BoundedBackend` is httpcore's network backend with these bounds;
the address guard (:mod:`newsqa.feeds.guard`) narrows which of the resolved addresses it may use.
"""

from __future__ import annotations

import errno
import ipaddress
import selectors
import socket
import ssl
import threading
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import httpcore
from httpcore._utils import is_socket_readable

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
SLICE_S = 0.2  # the longest a wait goes without looking at the stop event

_local = threading.local()


class Interrupted(httpcore.ReadError):
    """The request was abandoned because its stop event was set."""


@contextmanager
def limits(deadline: float, stop: threading.Event | None = None) -> Iterator[None]:
    """Requests made by this thread inside the block end by ``deadline`` (``time.monotonic``)
    with a timeout, or as soon as ``stop`` is set with :class:`Interrupted`."""
    old = getattr(_local, "limits", None)
    _local.limits = (deadline, stop)
    try:
        yield
    finally:
        _local.limits = old


def _left(op_end: float | None, timeout: type[Exception]) -> float:
    """Seconds this step may still wait (the sooner of the step's own end and the request's
    deadline); ``timeout`` raised when none are left, :class:`Interrupted` when stopped."""
    deadline, stop = getattr(_local, "limits", None) or (None, None)
    if stop is not None and stop.is_set():
        raise Interrupted("stopped")
    now = time.monotonic()
    ends = [t for t in (op_end, deadline) if t is not None]
    if not ends:
        return SLICE_S
    left = min(ends) - now
    if left <= 0:
        raise timeout("the request's time limit was reached")
    return left


def _end_of(timeout: float | None) -> float | None:
    return None if timeout is None else time.monotonic() + timeout


class BoundedStream(httpcore.NetworkStream):
    """A socket (plain or TLS) whose reads, writes and handshake keep to the deadline."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        """Up to ``max_bytes`` bytes (b"" at the end of the stream)."""
        end = _end_of(timeout)
        while True:
            self._sock.settimeout(min(_left(end, httpcore.ReadTimeout), SLICE_S))
            try:
                return self._sock.recv(max_bytes)
            except TimeoutError:
                continue  # nothing came in this slice: look at the clock and the stop event
            except OSError as exc:
                raise httpcore.ReadError(str(exc)) from exc

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        """Send all of ``buffer`` (a request: small) before the deadline."""
        end = _end_of(timeout)
        while buffer:
            self._sock.settimeout(min(_left(end, httpcore.WriteTimeout), SLICE_S))
            try:
                buffer = buffer[self._sock.send(buffer):]
            except TimeoutError:
                continue
            except OSError as exc:
                raise httpcore.WriteError(str(exc)) from exc

    def close(self) -> None:
        """Close the socket."""
        self._sock.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        """The TLS stream over this socket, its handshake kept to the deadline."""
        end = _end_of(timeout)
        try:
            sock = ssl_context.wrap_socket(
                self._sock, server_hostname=server_hostname, do_handshake_on_connect=False
            )
            while True:
                sock.settimeout(min(_left(end, httpcore.ConnectTimeout), SLICE_S))
                try:
                    sock.do_handshake()
                    break
                except TimeoutError:
                    continue  # the handshake goes on where it stopped
        except OSError as exc:
            self._sock.close()
            raise httpcore.ConnectError(str(exc)) from exc
        except BaseException:
            self._sock.close()
            raise
        return BoundedStream(sock)

    def get_extra_info(self, info: str) -> Any:
        """What httpcore asks of a stream (its TLS object, addresses, socket, readability)."""
        if info == "ssl_object" and isinstance(self._sock, ssl.SSLSocket):
            return self._sock._sslobj  # type: ignore[attr-defined]
        if info == "client_addr":
            return self._sock.getsockname()
        if info == "server_addr":
            return self._sock.getpeername()
        if info == "socket":
            return self._sock
        if info == "is_readable":
            return is_socket_readable(self._sock)
        return None


def resolve(host: str, port: int) -> list[IPAddress]:
    """The addresses ``host`` resolves to (an IP literal resolves to itself), the look-up kept
    to the deadline (it runs in a thread of its own, left behind if it is late)."""
    try:
        return [ipaddress.ip_address(host.strip("[]"))]
    except ValueError:
        pass
    found: list[Any] = []

    def look_up() -> None:
        try:
            found.append(socket.getaddrinfo(host, port, type=socket.SOCK_STREAM))
        except OSError as exc:
            found.append(exc)

    thread = threading.Thread(target=look_up, name="feed-dns", daemon=True)
    thread.start()
    while thread.is_alive():
        thread.join(min(_left(None, httpcore.ConnectTimeout), SLICE_S))
    if isinstance(found[0], OSError):
        raise httpcore.ConnectError(f"cannot resolve {host}: {found[0]}")
    out: list[IPAddress] = []
    for info in found[0]:
        ip = ipaddress.ip_address(str(info[4][0]).split("%")[0])
        if ip not in out:
            out.append(ip)
    return out


def connect(
    ip: IPAddress,
    port: int,
    timeout: float | None = None,
    local_address: str | None = None,
    socket_options: Iterable[Any] | None = None,
) -> socket.socket:
    """A TCP connection to ``ip``, waited for in slices (deadline and stop event)."""
    end = _end_of(timeout)
    sock = socket.socket(socket.AF_INET6 if ip.version == 6 else socket.AF_INET)
    try:
        for option in socket_options or ():
            sock.setsockopt(*option)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if local_address:
            sock.bind((local_address, 0))
        sock.setblocking(False)
        err = sock.connect_ex((str(ip), port))
        if err in (errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EALREADY):
            with selectors.DefaultSelector() as sel:
                sel.register(sock, selectors.EVENT_WRITE)
                while not sel.select(min(_left(end, httpcore.ConnectTimeout), SLICE_S)):
                    pass
            err = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
        if err:
            raise httpcore.ConnectError(f"cannot connect to {ip} port {port}: "
                                        f"{errno.errorcode.get(err, err)}")
        sock.setblocking(True)
        return sock
    except BaseException:
        sock.close()
        raise


class BoundedBackend(httpcore.NetworkBackend):
    """httpcore's network backend for feed requests: every step kept to the request's deadline.
    Subclasses narrow the addresses a host may be reached at (:meth:`admit`)."""

    def admit(self, host: str, addresses: list[IPAddress]) -> list[IPAddress]:
        """The addresses of ``host`` that may be connected to, in order (here: all)."""
        return addresses

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Resolve ``host``, keep the admitted addresses, connect to the first that answers."""
        addresses = self.admit(host, resolve(host, port))
        if not addresses:
            raise httpcore.ConnectError(f"{host} resolves to no address")
        error: Exception | None = None
        for ip in addresses:
            try:
                return BoundedStream(connect(ip, port, timeout, local_address, socket_options))
            except httpcore.ConnectError as exc:
                error = exc
        assert error is not None
        raise error

    def connect_unix_socket(
        self, path: str, timeout: float | None = None,
        socket_options: Iterable[Any] | None = None,
    ) -> httpcore.NetworkStream:
        """Not used by feeds."""
        raise httpcore.ConnectError("feed requests do not use Unix sockets")

    def sleep(self, seconds: float) -> None:
        """Sleep (httpcore's retries)."""
        time.sleep(seconds)
