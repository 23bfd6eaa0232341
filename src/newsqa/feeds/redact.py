"""Feed URLs as they are shown: without the secrets an operator may have put in them.

A feed URL is kept whole where it is used (the store, requests), but every place that shows
one (``/metrics`` labels, ``/api/feeds``, ``newsqa feeds`` and ``follow`` output, poll log lines,
stored poll errors, articles' origin) goes through :func:`redact_url` or :func:`redact_text`:
the userinfo (``user:password@``) becomes ``***@`` and the value of each query or fragment
parameter whose name looks like a credential (``apikey``, ``token``, ``key``, ``password``,
``secret``, ``sig``, ``auth``…) becomes ``***``. A secret written into the path cannot be told
from a path and is shown as it is.
"""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit, urlunsplit

MASK = "***"
SECRET_NAME = re.compile(
    r"key|token|secret|pass|pw|sig|auth|cred|session|sid|code|jwt|bearer", re.IGNORECASE
)
"""Parameter names (anywhere in the name) whose values are masked."""
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s\"'<>]+")
_USERINFO = re.compile(r"(//)[^/?#\s@]*@")


def _params(text: str) -> str:
    """``text`` (a query or fragment) with the values of secret-looking parameters masked."""
    if "=" not in text:
        return text
    out = []
    for part in re.split(r"([&;])", text):
        name, eq, value = part.partition("=")
        if eq and value and SECRET_NAME.search(unquote(name)):
            part = f"{name}={MASK}"
        out.append(part)
    return "".join(out)


def redact_url(url: str) -> str:
    """``url`` with its userinfo and secret-looking query parameters masked (unchanged when
    it has none)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # a bad [IPv6] literal: mask what looks like userinfo
        return _USERINFO.sub(rf"\1{MASK}@", url)
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{MASK}@{netloc.rpartition('@')[2]}"
    query, fragment = _params(parts.query), _params(parts.fragment)
    if (netloc, query, fragment) == (parts.netloc, parts.query, parts.fragment):
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_text(text: str) -> str:
    """``text`` (an error message, a log line) with every URL in it redacted."""
    return _URL_IN_TEXT.sub(lambda m: redact_url(m.group()), text)
