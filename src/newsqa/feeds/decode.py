"""Content decoding of feed and page bodies, bounded as it goes.

httpx decodes each network chunk whole before a caller can count it, so a small compressed body
(or one compressed twice, ``Content-Encoding: gzip, gzip``) could grow to gigabytes in memory
before a size cap saw it. Here the raw bytes are decoded by hand with ``max_length``, so the
output never holds more than the cap and one byte. Only ``gzip`` and ``deflate`` (and identity)
are understood, which are all a feed request asks for (:data:`ACCEPT_ENCODING`); stacked or
other codings are refused.
"""

from __future__ import annotations

import zlib

ACCEPT_ENCODING = "gzip, deflate"


class ContentError(ValueError):
    """A body that cannot be decoded within its cap (the message says why)."""


def codings(header: str) -> list[str]:
    """The content codings of a ``Content-Encoding`` header, in order, identity left out."""
    found = [c.strip().lower() for c in header.split(",")]
    return [c for c in found if c and c != "identity"]


class BoundedDecoder:
    """Decodes a body of the given ``Content-Encoding`` from raw chunks, refusing it once more
    than ``limit`` bytes came out (or went in)."""

    def __init__(self, content_encoding: str, limit: int) -> None:
        found = codings(content_encoding)
        if len(found) > 1:
            raise ContentError(f"stacked content encodings are refused ({', '.join(found)})")
        self.coding = found[0] if found else ""
        if self.coding not in ("", "gzip", "x-gzip", "deflate"):
            raise ContentError(f"unsupported content encoding {self.coding!r}")
        self.limit = limit
        self.raw = 0
        self.size = 0
        self._started = False
        self._z = None
        if self.coding in ("gzip", "x-gzip"):
            self._z = zlib.decompressobj(16 + zlib.MAX_WBITS)
        elif self.coding == "deflate":
            self._z = zlib.decompressobj()

    def _over(self) -> ContentError:
        after = f" (after {self.coding} decoding)" if self.coding else ""
        return ContentError(f"body is over the {self.limit:,}-byte limit{after}")

    def feed(self, data: bytes) -> bytes:
        """The decoded bytes of the next raw chunk; ContentError past the cap or for a body
        that is not in its stated coding."""
        self.raw += len(data)
        if self.raw > self.limit:
            raise self._over()
        if self._z is None:
            out = data
        else:
            out = self._decompress(data)
        self.size += len(out)
        if self.size > self.limit:
            raise self._over()
        return out

    def _decompress(self, data: bytes) -> bytes:
        assert self._z is not None
        room = self.limit - self.size + 1
        try:
            out = self._z.decompress(data, room)
        except zlib.error as exc:
            if self.coding == "deflate" and not self._started:
                # "deflate" is sent both zlib-wrapped (RFC 9110) and raw by some servers
                self._z = zlib.decompressobj(-zlib.MAX_WBITS)
                self._started = True
                return self._decompress(data)
            raise ContentError(f"body is not valid {self.coding} ({exc})") from None
        self._started = True
        return out

    def flush(self) -> bytes:
        """What the decoder still holds at the end of the body."""
        if self._z is None:
            return b""
        try:
            out = self._z.flush(self.limit - self.size + 1)
        except zlib.error as exc:
            raise ContentError(f"body is not valid {self.coding} ({exc})") from None
        self.size += len(out)
        if self.size > self.limit:
            raise self._over()
        return out
