"""Articles, read: ``GET /api/articles`` (a page of metadata, filterable by outlet and date) and
``GET /api/articles/{id}`` (one article with its text). Adding and deleting articles are
:mod:`newsqa.api.routes.operations`."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query
from pydantic import ValidationError

from newsqa.api import schemas as s
from newsqa.api.dependencies import READS, Service
from newsqa.api.errors import message
from newsqa.records import Filters

router = APIRouter()
ERRORS = s.ERRORS
MAX_OFFSET = 1_000_000_000  # far past any archive, well inside SQLite's integers


@router.get("/api/articles", response_model=s.ArticlePage, tags=["Articles"], dependencies=READS,
            summary="List articles, newest first", responses=ERRORS)
def list_articles(
    svc: Service,
    offset: Annotated[int, Query(ge=0, le=MAX_OFFSET, description="Items to skip")] = 0,
    limit: Annotated[int, Query(ge=1, le=100, description="Page size (at most 100)")] = 20,
    source: Annotated[list[s.Outlet], Query(
        max_length=50, description="Only this outlet (repeatable, at most 50)")] = [],  # noqa: B006 - FastAPI copies it
    since: Annotated[s.IsoDate | None, Query(description=f"YYYY-MM-DD ({s.DATE_ORDER})",
                                             examples=["2013-01-01"])] = None,
    until: Annotated[s.IsoDate | None, Query(description=f"YYYY-MM-DD ({s.DATE_ORDER})",
                                             examples=["2023-12-31"])] = None,
) -> dict[str, Any]:
    """A page of article metadata (`total`, `offset`, `limit`, `items`), filterable by outlet and
    publication date."""
    f = _list_filters(since, until, source)
    return svc.list_articles(f, offset, limit)


def _list_filters(since: str | None, until: str | None, source: list[str] | None) -> Filters:
    try:
        fields = s.FilterFields.model_validate(
            {"since": since, "until": until, "sources": source or None}
        )
        return fields.filters()
    except ValidationError as exc:
        raise HTTPException(422, "; ".join(message(e) for e in exc.errors())) from None


@router.get("/api/articles/{article_id:path}", response_model=s.ArticleDetail, tags=["Articles"],
            dependencies=READS, summary="One article with its text",
            responses={404: {"model": s.ErrorBody, "description": "No such article"}, **ERRORS})
def get_article(article_id: str, svc: Service) -> dict[str, Any]:
    """Metadata and full text of an article, by id or URL."""
    found = svc.article(article_id)
    if found is None:
        raise HTTPException(404, f"no article {article_id!r}")
    return found
