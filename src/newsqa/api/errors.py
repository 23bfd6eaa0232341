"""How failures become responses, all registered in one place (:func:`install_error_handlers`).

Every error is JSON, ``{"detail": "..."}`` (see :func:`newsqa.api.middleware.error_body`): a
refused request body is a 422 listing each field's problem, an :class:`HTTPException` keeps its
status and headers (a 405 names every method the path takes), another process writing to the
index is a 409 with ``Retry-After``, a catalogue server that cannot be reached a 503 with
``Retry-After`` (which names no server: the log does), and a request the service refuses
(:class:`~newsqa.service.RequestError`) is a 422. Any other exception becomes a 500 in
:class:`~newsqa.api.middleware.RequestContextMiddleware` (logged, never shown).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import Match, Mount

from newsqa.api import schemas as s
from newsqa.api.middleware import RETRY_AFTER_S, error_body, request_id
from newsqa.index.errors import CatalogueUnavailableError
from newsqa.index.store import IndexBusyError
from newsqa.service import RequestError

#: The OpenAPI ``responses`` entry of a write that can meet another process writing.
BUSY: dict[int | str, dict[str, Any]] = {409: {
    "model": s.ErrorBody,
    "description": "Another process is writing to the index: retry after `Retry-After` seconds",
    "headers": {"Retry-After": {"description": "Seconds to wait", "schema": {"type": "integer"}}},
}}
_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
#: What a client is told when the catalogue's server cannot be reached.
UNAVAILABLE = "the catalogue database is unavailable"
log = logging.getLogger("newsqa.api")


class OpenAIError(StarletteHTTPException):
    """An HTTP error with the ``code`` and ``param`` that OpenAI clients read (``/v1``)."""

    def __init__(self, status: int, detail: str, *, code: str, param: str | None = None) -> None:
        super().__init__(status, detail)
        self.code, self.param = code, param


def message(error: Any) -> str:
    """A pydantic error message without pydantic's "Value error, " prefix."""
    return str(error.get("msg", "")).removeprefix("Value error, ")


def _error(request: Request, status: int, detail: str, **extra: Any) -> JSONResponse:
    return JSONResponse(error_body(request.url.path, status, detail, **extra), status)


async def _validation(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    errors = [
        {"loc": list(e.get("loc", ())), "msg": message(e), "type": e.get("type", "")}
        for e in exc.errors()
    ]
    detail = "; ".join(
        f"{'.'.join(str(p) for p in e['loc'][1:]) or e['loc'][0] if e['loc'] else 'body'}: "
        f"{e['msg']}"
        for e in errors
    )
    # the field at fault for OpenAI clients: an unknown one first (a union's other branches
    # report a mismatch of their own)
    at_fault = [e for e in errors if e["type"] == "extra_forbidden"] or errors
    param = ".".join(str(p) for p in at_fault[0]["loc"][1:]) if at_fault else None
    return _error(request, 422, detail or "invalid request", errors=errors, param=param or None)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    coded = {"code": exc.code, "param": exc.param} if isinstance(exc, OpenAIError) else {}
    resp = _error(request, exc.status_code, str(exc.detail), **coded)
    resp.headers.update(exc.headers or {})
    if exc.status_code == 405:
        resp.headers["Allow"] = allowed_methods(request, resp.headers.get("Allow", ""))
    return resp


async def _busy(request: Request, exc: Exception) -> JSONResponse:
    resp = _error(request, 409, str(exc))
    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


async def _unavailable(request: Request, exc: Exception) -> JSONResponse:
    # The message names the server, its user and database: for the log, not for clients.
    log.warning("request %s: %s", request_id(request), exc)
    resp = _error(request, 503, UNAVAILABLE)
    resp.headers["Retry-After"] = str(RETRY_AFTER_S)
    return resp


async def _refused(request: Request, exc: Exception) -> JSONResponse:
    return _error(request, 422, str(exc))


def install_error_handlers(app: FastAPI) -> None:
    """Register the app's exception handlers (see the module's docstring)."""
    app.add_exception_handler(RequestValidationError, _validation)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(IndexBusyError, _busy)
    app.add_exception_handler(CatalogueUnavailableError, _unavailable)
    app.add_exception_handler(RequestError, _refused)
    # any other exception becomes a 500 in RequestContextMiddleware (logged, never shown)


def allowed_methods(request: Request, given: str = "") -> str:
    """The ``Allow`` header of a 405: every method some route takes at the request's path
    (starlette names only the first route's: GET of ``/api/articles``, not its POST), else
    ``given``."""
    routes = [r for r in request.app.router.routes if not isinstance(r, Mount)]
    methods = [
        m for m in _METHODS
        if any(r.matches({**request.scope, "method": m})[0] is Match.FULL for r in routes)
    ]
    return ", ".join(methods) or given
