"""The app factory, :func:`create_app`: one FastAPI app over one :class:`NewsQA` service,
assembled from the rooms of :mod:`newsqa.api` (middleware, error handlers, the routers in their
order, the web chat's files and the docs)."""

from __future__ import annotations

import threading

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from newsqa import __version__
from newsqa.api.bodylimit import BodyLimitMiddleware
from newsqa.api.docs import (
    DESCRIPTION,
    OPENAPI_TAGS,
    docs_assets,
    serve_local_docs,
    truthful_openapi,
)
from newsqa.api.errors import install_error_handlers
from newsqa.api.exposure import Exposure, HostCheckMiddleware
from newsqa.api.metrics import Metrics, MetricsMiddleware
from newsqa.api.middleware import RequestContextMiddleware
from newsqa.api.routes import articles, feeds, openai, operations, questions, watches, web
from newsqa.api.shutdown import lifespan
from newsqa.api.uploads import clean_stale_uploads
from newsqa.service import NewsQA


def create_app(service: NewsQA, bind: str | None = None) -> FastAPI:
    """The FastAPI app serving ``service``: the API, ``/v1`` (OpenAI), ``/metrics`` and the web
    chat (``/`` and ``/static``); ``/docs`` documents it (with local assets when the
    ``fastapi-offline`` package is installed, else FastAPI's CDN-hosted Swagger UI).

    ``bind`` is the address the server listens on (None: not known, as for a test's client):
    what it exposes decides whether keyless writes and other ``Host`` names are answered
    (:mod:`newsqa.api.exposure`)."""
    assets = docs_assets()
    app = FastAPI(
        title="newsqa", version=__version__, description=DESCRIPTION,
        docs_url=None if assets else "/docs", redoc_url=None if assets else "/redoc",
        openapi_tags=OPENAPI_TAGS, lifespan=lifespan,
    )
    app.state.service = service
    app.state.metrics = Metrics()
    app.state.stopping = threading.Event()
    app.state.exposure = Exposure.of(service.settings.api, bind)
    app.state.exposure.announce(service.settings.api)
    clean_stale_uploads(service.index.path)
    app.add_middleware(  # uploads to POST /api/articles have max_upload_bytes instead
        BodyLimitMiddleware, limit=service.settings.api.max_body_bytes,
        exempt=[("POST", "/api/articles")],
    )
    app.add_middleware(MetricsMiddleware, metrics=app.state.metrics)
    app.add_middleware(HostCheckMiddleware, hosts=app.state.exposure.hosts)
    app.add_middleware(RequestContextMiddleware)  # outermost: it also sees the metrics' 500s
    install_error_handlers(app)
    # the OpenAPI page's order
    for routes in (questions, articles, operations, web, openai, feeds, watches):
        app.include_router(routes.router)
    feeds.collect_metrics(app)
    app.mount("/static", StaticFiles(directory=web.WEB_DIR), name="static")
    if assets:
        serve_local_docs(app, assets)
    truthful_openapi(app, service)
    return app
