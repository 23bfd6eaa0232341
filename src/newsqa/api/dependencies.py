"""What routes depend on: the service object, the API key check for reads and writes, and the
question check shared by ``/api/ask`` and ``/v1/chat/completions``.

The key is one bearer token (``NEWSQA_API__KEY``); reads are declared with a security scheme of
their own (:data:`READ_SCHEME`) only so that :mod:`newsqa.api.docs` can tell them apart in the
OpenAPI document, where it folds that scheme back into ``HTTPBearer``.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from newsqa.service import NewsQA

KEY_DOC = "The server's NEWSQA_API__KEY"
bearer = HTTPBearer(auto_error=False, description=KEY_DOC)
# The same key, for reads: a scheme of its own only so that the OpenAPI page can tell which
# operations are reads (docs.document_auth folds it back into HTTPBearer).
READ_SCHEME = "HTTPBearerRead"
read_bearer = HTTPBearer(auto_error=False, scheme_name=READ_SCHEME, description=KEY_DOC)


def get_service(request: Request) -> NewsQA:
    """The app's service object."""
    svc: NewsQA = request.app.state.service
    return svc


Service = Annotated[NewsQA, Depends(get_service)]
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
ReadCredentials = Annotated[HTTPAuthorizationCredentials | None, Depends(read_bearer)]


def _check_key(svc: NewsQA, creds: HTTPAuthorizationCredentials | None) -> None:
    key = svc.settings.api.key
    token = creds.credentials if creds else ""
    if key and not hmac.compare_digest(token.encode(), key.encode()):
        raise HTTPException(
            401,
            "missing or wrong API key: send 'Authorization: Bearer <key>'",
            headers={"WWW-Authenticate": 'Bearer realm="newsqa"'},
        )


def key_owner(svc: NewsQA, creds: HTTPAuthorizationCredentials | None) -> str | None:
    """Whose watches a request that gives the server's API key reaches: ``key:`` and the first
    16 hex digits of the key's SHA-256; None when the server has no key or the request gives
    none (401 for a wrong one)."""
    key = svc.settings.api.key
    if not key or creds is None:
        return None
    _check_key(svc, creds)
    return "key:" + hashlib.sha256(key.encode()).hexdigest()[:16]


def require_write(request: Request, svc: Service, creds: Credentials) -> None:
    """Writes need the API key when one is configured; a server listening on a non-loopback
    address without one refuses them (403) unless ``open_writes`` is on
    (:class:`newsqa.api.exposure.Exposure`)."""
    refused: str | None = request.app.state.exposure.writes_refused
    if refused:
        raise HTTPException(403, refused)
    _check_key(svc, creds)


def require_read(svc: Service, creds: ReadCredentials) -> None:
    """Reads need the API key only when ``api_key_reads`` is set."""
    if svc.settings.api.key_reads:
        _check_key(svc, creds)


#: The ``dependencies`` of a read route and of a write route (FastAPI copies the lists).
READS = [Depends(require_read)]
WRITES = [Depends(require_write)]


def check_question(svc: NewsQA, question: str) -> str:
    """The question stripped; 422 when it is blank or longer than ``max_question_chars``."""
    q = question.strip()
    if not q:
        raise HTTPException(422, "question must not be empty")
    limit = svc.settings.api.max_question_chars
    if len(q) > limit:
        raise HTTPException(422, f"question is {len(q)} characters long; the limit is {limit}")
    return q
