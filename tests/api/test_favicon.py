"""The site's icon is served from the package, and the chat page links it."""

from __future__ import annotations

from fastapi.testclient import TestClient


def test_favicon_is_served(client: TestClient) -> None:
    r = client.get("/favicon.ico")
    assert r.status_code == 200
    assert r.headers["content-type"] == "image/vnd.microsoft.icon"
    assert r.content[:4] == b"\0\0\1\0"  # an ICO file holding one image
    assert r.content[22:30] == b"\x89PNG\r\n\x1a\n"  # a PNG one
    assert 'rel="icon" href="/favicon.ico"' in client.get("/").text


def test_favicon_is_not_an_api_operation(client: TestClient) -> None:
    assert "/favicon.ico" not in client.get("/openapi.json").json()["paths"]
