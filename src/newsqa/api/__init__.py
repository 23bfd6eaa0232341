"""HTTP API (FastAPI) over the :class:`~newsqa.service.NewsQA` service, with the web chat."""

from newsqa.api.app import create_app, serve

__all__ = ["create_app", "serve"]
