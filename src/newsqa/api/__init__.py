"""The HTTP API and the web chat over the :class:`~newsqa.service.NewsQA` service.

Routes parse their input (see :mod:`newsqa.api.schemas`), call the service and format its
output; streaming routes speak Server-Sent Events (``event:`` name, ``data:`` JSON). Each concern
has a module of its own, imported from where it lives:

* :mod:`newsqa.api.factory` -- :func:`~newsqa.api.factory.create_app`, which assembles the rest;
* :mod:`newsqa.api.dependencies` -- the service dependency and the API key for reads and writes;
* :mod:`newsqa.api.routes` -- the routes, one module per feature (questions, articles,
  operations, web, openai, feeds);
* :mod:`newsqa.api.sse` -- Server-Sent Events;
* :mod:`newsqa.api.uploads` -- what ``POST /api/articles`` reads (JSON or a multipart file);
* :mod:`newsqa.api.errors` -- the exception handlers, registered in one place;
* :mod:`newsqa.api.exposure` -- what the address served on allows: keyless writes, ``Host``
  names, the health page's details; :mod:`newsqa.api.shutdown` -- stopping work in progress;
* :mod:`newsqa.api.docs` -- the OpenAPI document and the offline ``/docs`` pages;
* :mod:`newsqa.api.server` -- :func:`~newsqa.api.server.serve` and the uvicorn worker
  supervisor.
"""
