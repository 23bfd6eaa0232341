"""The API's documentation: the OpenAPI description and tags, ``/openapi.json`` made to say what
this server's settings decide (:func:`truthful_openapi`), and ``/docs`` / ``/redoc`` served from
local files with a Content-Security-Policy of their own when the ``fastapi-offline`` package is
installed (:func:`serve_local_docs`), so they work without internet."""

from __future__ import annotations

import base64
import hashlib
import re
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.docs import get_redoc_html, get_swagger_ui_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

from newsqa.api.dependencies import READ_SCHEME
from newsqa.api.middleware import CSP
from newsqa.service import NewsQA
from newsqa.settings.sections import ApiSettings

DESCRIPTION = """Question answering over a news archive, with cited answers.

* **Ask** a question (`/api/ask`, or `/api/ask/stream` as Server-Sent Events): the answer's
  sentences carry `[n]` markers pointing at `citations`, one per article (a generated answer: per
  passage), each quoting the passage(s) it comes from. When no article answers, `abstained` is
  true and `passages` lists the closest ones.
* **Search** passages, **browse**, **add** (JSON or an uploaded file) and **delete** articles.
* **Watch** a question (`/api/watches`): it is asked again as news arrives, and a notice says
  what changed in its answer (a list with unread marks, Server-Sent Events, an Atom feed per
  watch, an optional webhook).
* An **OpenAI-compatible** `/v1/chat/completions` lets chat clients get cited answers.

When the server has an API key (`NEWSQA_API__KEY`), writes need `Authorization: Bearer <key>`;
reads need it too only when `NEWSQA_API__KEY_READS=1` (each operation's security says which).
Errors are JSON: `{"detail": "..."}`. A write that meets another process writing to the index
gets 409 with a `Retry-After` header. A request body over `NEWSQA_API__MAX_BODY_BYTES` (1 MB by
default; uploads have their own limit) gets 413. One rule the schemas cannot state: a request
whose `since` is after its `until` is refused with 422. Every response carries an
`X-Request-ID` header (a client's own is kept when it is plain); a 500 says only "internal
error" with that id, which the server log lists with the details.
"""
OPENAPI_TAGS = [
    {"name": "Questions", "description": "Ask and search"},
    {"name": "Articles", "description": "Browse, add and delete articles"},
    {"name": "Feeds", "description": "Followed news feeds and their status"},
    {"name": "Watches", "description": "Watched questions: notices when their answer changes, "
     "as a list, Server-Sent Events, Atom feeds or webhooks"},
    {"name": "OpenAI-compatible", "description": "For existing chat clients"},
    {"name": "Operations", "description": "Health and metrics"},
    {"name": "Web", "description": "The chat page"},
]


def _document_auth(doc: dict[str, Any], settings: ApiSettings) -> None:
    """Each operation's security as this server asks for it: the key is required for writes
    when one is configured, and for reads only with ``key_reads``; otherwise it is optional
    (``security: [{}, {"HTTPBearer": []}]``). Reads are told apart by their own scheme, which
    is folded into ``HTTPBearer`` here."""
    writes_need_key = bool(settings.key)
    reads_need_key = writes_need_key and settings.key_reads
    for ops in doc.get("paths", {}).values():
        for op in ops.values():
            security = op.get("security") if isinstance(op, dict) else None
            if not security:
                continue
            read = any(READ_SCHEME in requirement for requirement in security)
            op["security"] = [{"HTTPBearer": []}]
            if not (reads_need_key if read else writes_need_key):
                op["security"].insert(0, {})
    schemes = doc.get("components", {}).get("securitySchemes", {})
    read_scheme = schemes.pop(READ_SCHEME, None)
    if read_scheme is not None:
        schemes.setdefault("HTTPBearer", read_scheme)


def _drop_generate(node: Any) -> None:
    """Remove "generate" from the enums under ``node`` (a mode field's schema)."""
    if isinstance(node, dict):
        if "generate" in node.get("enum", []):
            node["enum"] = [v for v in node["enum"] if v != "generate"]
        for value in node.values():
            _drop_generate(value)
    elif isinstance(node, list):
        for value in node:
            _drop_generate(value)


def _document_limits(doc: dict[str, Any], service: NewsQA) -> None:
    """The limits this server's settings set: a question (and each user message of
    ``/v1/chat/completions``, each a question) is at most ``max_question_chars`` long; without
    a language model, ``mode`` is extractive only."""
    schemas = doc.get("components", {}).get("schemas", {})
    limit = service.settings.api.max_question_chars
    for name in ("AskRequest", "WatchIn"):
        question = schemas.get(name, {}).get("properties", {}).get("question")
        if question is not None:
            question["maxLength"] = limit
    user = schemas.get("UserMessage", {}).get("properties", {}).get("content", {})
    for option in user.get("anyOf", []):
        if option.get("type") == "string":
            option["maxLength"] = min(option.get("maxLength", limit), limit)
    if service.chat is None:
        model = schemas.get("ChatRequest", {}).get("properties", {}).get("model", {})
        if "enum" in model:
            model["enum"] = [m for m in model["enum"] if m != "newsqa-generate"]
        for name in ("AskRequest", "ChatRequest"):
            mode = schemas.get(name, {}).get("properties", {}).get("mode")
            if mode is not None:
                _drop_generate(mode)
                mode["description"] = "extractive (generate needs a language model server, "\
                    "which this one has not: NEWSQA_GENERATOR__URL)"


def truthful_openapi(app: FastAPI, service: NewsQA) -> None:
    """Make ``/openapi.json`` say what this server's settings decide: which operations need
    the key, how long a question may be, whether ``mode: generate`` is there."""
    make = app.openapi
    done: list[dict[str, Any]] = []  # the document made truthful (FastAPI caches it)

    def openapi() -> dict[str, Any]:
        doc = make()  # FastAPI's, cached (and made again if routes are added)
        if not done or done[0] is not doc:
            _document_auth(doc, service.settings.api)
            _document_limits(doc, service)
            done[:] = [doc]
        return doc

    app.openapi = openapi  # type: ignore[method-assign]


def docs_assets() -> Path | None:
    """Local Swagger UI / ReDoc files (the ``fastapi-offline`` package), if installed."""
    try:
        import fastapi_offline
    except ImportError:
        return None
    path = Path(fastapi_offline.__file__).parent / "static"
    return path if (path / "swagger-ui-bundle.js").is_file() else None


def docs_csp(html: str) -> str:
    """A Content-Security-Policy for a docs page: the site's own, plus exactly the page's inline
    scripts (by hash), inline styles (Swagger UI and ReDoc set them at run time), ``data:``
    images (their icons) and ``blob:`` workers (ReDoc)."""
    digests = [
        base64.b64encode(hashlib.sha256(body.encode()).digest()).decode()
        for body in re.findall(r"<script>(.*?)</script>", html, flags=re.S)
    ]
    hashes = [f"'sha256-{d}'" for d in digests]
    return (
        f"{CSP}; script-src 'self' {' '.join(hashes)}; style-src 'self' 'unsafe-inline'; "
        "img-src 'self' data:; worker-src 'self' blob:"
    )


def _with_own_csp(page: HTMLResponse) -> HTMLResponse:
    page.headers["Content-Security-Policy"] = docs_csp(bytes(page.body).decode())
    return page


def serve_local_docs(app: FastAPI, assets: Path) -> None:
    """Serve ``/docs`` and ``/redoc`` from local files, so they work without internet."""
    app.mount("/docs-static", StaticFiles(directory=assets), name="docs-static")
    swagger_page = _with_own_csp(get_swagger_ui_html(
        openapi_url="/openapi.json", title="newsqa — API docs",
        swagger_js_url="/docs-static/swagger-ui-bundle.js",
        swagger_css_url="/docs-static/swagger-ui.css",
        swagger_favicon_url="/docs-static/favicon.png",
    ))
    redoc_page = _with_own_csp(get_redoc_html(
        openapi_url="/openapi.json", title="newsqa — API reference",
        redoc_js_url="/docs-static/redoc.standalone.js",
        redoc_favicon_url="/docs-static/favicon.png", with_google_fonts=False,
    ))

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return swagger_page

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return redoc_page
