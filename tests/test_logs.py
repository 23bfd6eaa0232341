"""Log lines: readable text by default, one JSON object a line with NEWSQA_LOG__FORMAT=json."""

from __future__ import annotations

import io
import json
import logging
from pathlib import Path

from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.api.server import log_config
from newsqa.logs import JsonFormatter, RequestIdFilter, formatter, with_format
from tests.support import open_service


def _record(msg: str, **extra: object) -> logging.LogRecord:
    rec = logging.LogRecord("newsqa.x", logging.WARNING, __file__, 1, msg, (), None)
    for k, v in extra.items():
        setattr(rec, k, v)
    return rec


def test_json_formatter() -> None:
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        import sys

        rec = _record("it broke: %s", feed="https://a.example/rss", n=3)
        rec.args = ("here",)
        rec.exc_info = sys.exc_info()
    line = JsonFormatter().format(rec)
    assert "\n" not in line
    d = json.loads(line)
    assert (d["level"], d["logger"], d["message"]) == ("WARNING", "newsqa.x", "it broke: here")
    assert d["feed"] == "https://a.example/rss" and d["n"] == 3
    assert "ValueError: bad" in d["exc_info"] and "request_id" not in d
    assert formatter("text").format(_record("plain")) == "WARNING newsqa.x: plain"


def test_uvicorn_config_in_json() -> None:
    assert log_config()["formatters"]["default"].get("()") != "newsqa.logs.JsonFormatter"
    config = with_format(log_config(), "json")
    assert {f["()"] for f in config["formatters"].values()} == {"newsqa.logs.JsonFormatter"}
    assert all("request_id" in h["filters"] for h in config["handlers"].values())


def test_server_log_lines_carry_the_request_id(tmp_path: Path) -> None:
    svc = open_service(tmp_path / "index", embedding__embedder="hash")
    app = create_app(svc)

    @app.get("/boom")
    def boom() -> None:
        logging.getLogger("newsqa.api").warning("about to fail")
        raise RuntimeError("boom")

    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RequestIdFilter())
    logger = logging.getLogger("newsqa.api")
    logger.addHandler(handler)
    try:
        with TestClient(app, raise_server_exceptions=False) as client:
            r = client.get("/boom", headers={"X-Request-ID": "req-42"})
    finally:
        logger.removeHandler(handler)
        svc.close()
    assert r.status_code == 500 and r.json()["request_id"] == "req-42"
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [d["message"] for d in lines] == ["about to fail", "request req-42 failed: GET /boom"]
    assert {d["request_id"] for d in lines} == {"req-42"}
    assert "RuntimeError: boom" in lines[1]["exc_info"]
