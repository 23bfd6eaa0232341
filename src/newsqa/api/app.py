"""The HTTP API and the web chat: ``create_app(service)`` builds the FastAPI app, ``serve`` runs it.

Routes parse their input (see :mod:`newsqa.api.schemas`), call the :class:`NewsQA` service and
format its output; streaming routes speak Server-Sent Events (``event:`` name, ``data:`` JSON).

This module is the package's public face; each concern has a module of its own:

* :mod:`newsqa.api.factory` -- :func:`create_app`, which assembles the rest;
* :mod:`newsqa.api.dependencies` -- the service dependency and the API key for reads and writes;
* :mod:`newsqa.api.routes` -- the routes per resource (questions, articles, operations, web);
  :mod:`newsqa.api.openai_compat` and :mod:`newsqa.api.feeds` hold ``/v1`` and the feeds;
* :mod:`newsqa.api.sse` -- Server-Sent Events;
* :mod:`newsqa.api.uploads` -- what ``POST /api/articles`` reads (JSON or a multipart file);
* :mod:`newsqa.api.errors` -- the exception handlers, registered in one place;
* :mod:`newsqa.api.exposure` -- what the address served on allows: keyless writes, ``Host``
  names, the health page's details; :mod:`newsqa.api.shutdown` -- stopping work in progress;
* :mod:`newsqa.api.docs` -- the OpenAPI document and the offline ``/docs`` pages;
* :mod:`newsqa.api.server` -- :func:`serve` and the uvicorn worker supervisor.
"""

from __future__ import annotations

from newsqa.api.dependencies import check_question, get_service, require_read, require_write
from newsqa.api.docs import docs_csp
from newsqa.api.errors import allowed_methods
from newsqa.api.factory import create_app
from newsqa.api.server import log_config, release_models, serve, start_warming, worker_app
from newsqa.api.sse import sse
from newsqa.api.uploads import (
    UPLOAD_PREFIX,
    UPLOADS_DIR,
    IngestJob,
    clean_stale_uploads,
    json_records,
    upload_folder,
)

__all__ = [
    "UPLOADS_DIR",
    "UPLOAD_PREFIX",
    "IngestJob",
    "allowed_methods",
    "check_question",
    "clean_stale_uploads",
    "create_app",
    "docs_csp",
    "get_service",
    "json_records",
    "log_config",
    "release_models",
    "require_read",
    "require_write",
    "serve",
    "sse",
    "start_warming",
    "upload_folder",
    "worker_app",
]
