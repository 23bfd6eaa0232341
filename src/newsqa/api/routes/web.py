"""The web chat's page, ``/`` (its assets are mounted at ``/static`` from :data:`WEB_DIR`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse

WEB_DIR = Path(__file__).resolve().parent.parent.parent / "web"
router = APIRouter()


@router.get("/", response_class=FileResponse, tags=["Web"], summary="Web chat page")
def index_page() -> FileResponse:
    """The chat page (its assets are under `/static/`)."""
    return FileResponse(WEB_DIR / "index.html", headers={"Cache-Control": "no-cache"})


@router.get("/favicon.ico", include_in_schema=False)
def favicon() -> FileResponse:
    """The site's icon (browsers ask for it at this address)."""
    return FileResponse(WEB_DIR / "favicon.ico", media_type="image/vnd.microsoft.icon",
                        headers={"Cache-Control": "public, max-age=86400"})
