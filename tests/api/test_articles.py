"""Browse, add (JSON or file upload, optionally streamed) and delete articles over HTTP."""

from __future__ import annotations

import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.api.schemas import ArticleDetail, ArticlePage, IngestResult
from newsqa.api.uploads import UPLOAD_PREFIX, UPLOADS_DIR, clean_stale_uploads
from newsqa.service import NewsQA
from tests.api.conftest import KOREA, sse_events
from tests.support import open_service

GOOD = {
    "title": "Harbour bridge reopens after repairs",
    "text": "The harbour bridge reopened to traffic on Monday after eight months of repairs to "
    "its steel cables, the city's transport department said.",
    "url": "https://city.example.com/2023/04/03/bridge",
    "published_at": "2023-04-03",
    "authors": ["Jo Reporter"],
}


def test_list_is_paged_and_filtered(client: TestClient, service: NewsQA) -> None:
    total = service.stats()["articles"]
    page = ArticlePage.model_validate(client.get("/api/articles").json())
    assert page.total == total and page.offset == 0 and page.limit == 20
    dates = [a.published_at for a in page.items]
    assert dates == sorted(dates, reverse=True), "newest first"
    second = client.get("/api/articles", params={"offset": 1, "limit": 1}).json()
    assert second["total"] == total and [a["id"] for a in second["items"]] == [page.items[1].id]
    by_source = client.get("/api/articles", params={"source": "money.example.com"}).json()
    assert by_source["total"] == 1 and by_source["items"][0]["source"] == "money.example.com"
    dated = client.get("/api/articles", params={"since": "2013-01-01", "until": "2013-12-31"})
    assert [a["title"] for a in dated.json()["items"]] == [KOREA]


def test_list_rejects_bad_paging_and_dates(client: TestClient) -> None:
    for params in ({"limit": 101}, {"limit": 0}, {"offset": -1}, {"offset": 10**27},
                   {"since": "2013-1-1"},
                   {"since": "2014-01-01", "until": "2013-01-01"}):
        r = client.get("/api/articles", params=params)
        assert r.status_code == 422, params
        assert isinstance(r.json()["detail"], str) and r.json()["detail"]


def test_get_article_and_404(client: TestClient) -> None:
    item = client.get("/api/articles", params={"source": "money.example.com"}).json()["items"][0]
    r = client.get(f"/api/articles/{item['id']}")
    assert r.status_code == 200
    art = ArticleDetail.model_validate(r.json())
    assert art.title == item["title"] and "interest rate" in art.text
    missing = client.get("/api/articles/does-not-exist")
    assert missing.status_code == 404 and "does-not-exist" in missing.json()["detail"]


def test_post_json_list_reports_each_item(fresh: tuple[TestClient, NewsQA]) -> None:
    client, svc = fresh
    before = svc.stats()["articles"]
    payload = [
        GOOD,
        {"title": "No text"},
        "not an object",
        {**GOOD, "url": "https://city.example.com/other", "bogus": 1},
        {**GOOD, "url": "https://city.example.com/dated", "published_at": "sometime"},
        {**GOOD, "url": "javascript:alert(1)"},
    ]
    r = client.post("/api/articles", json=payload)
    assert r.status_code == 200, r.text
    rep = IngestResult.model_validate(r.json())
    assert (rep.added, rep.skipped, rep.warnings) == (2, 4, 1)
    reasons = {p.path: p.reason for p in rep.problems}
    assert "text: Field required" in reasons["item[1]"]
    assert "item[2]" in reasons
    assert "bogus: Extra inputs are not permitted" in reasons["item[3]"]
    # an unreadable date keeps the article, undated, with a warning (as the file loaders do)
    assert reasons["item[4]"] == "unreadable date 'sometime': the article is kept without a date"
    assert [p.kind for p in rep.problems if p.path == "item[4]"] == ["warning"]
    assert "url" in reasons["item[5]"]
    assert [(i.status, i.origin) for i in rep.items] == [("added", "item[0]"), ("added", "item[4]")]
    assert svc.stats()["articles"] == before + 2
    assert svc.article("https://city.example.com/dated")["published_at"] is None
    stored = client.get(f"/api/articles/{rep.items[0].id}").json()
    assert stored["source"] == "city.example.com", "outlet defaults to the URL's domain"
    again = client.post("/api/articles", json=[GOOD]).json()
    assert again["unchanged"] == 1 and again["items"][0]["status"] == "unchanged"


def test_post_rejects_bad_bodies(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh
    assert client.post("/api/articles", json={"title": "x"}).status_code == 422
    assert client.post("/api/articles", json=[]).status_code == 422
    bad = client.post("/api/articles", content=b"[{", headers={"Content-Type": "application/json"})
    assert bad.status_code == 400 and "invalid JSON" in bad.json()["detail"]
    text = client.post("/api/articles", content=b"hello", headers={"Content-Type": "text/plain"})
    assert text.status_code == 415
    odd = client.post("/api/articles", files={"file": ("notes.docx", b"PK\x03\x04")})
    assert odd.status_code == 415 and ".jsonl" in odd.json()["detail"]
    nofile = client.post("/api/articles", files={"other": ("a.txt", b"x")})
    assert nofile.status_code == 422


def test_oversized_uploads_are_413(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh  # max_upload_bytes=50_000 in this fixture
    big = b'{"title": "t", "text": "' + b"word " * 12_000 + b'"}\n'
    r = client.post("/api/articles", files={"file": ("big.jsonl", big)})
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    r = client.post("/api/articles", json=[{**GOOD, "text": "word " * 12_000}])
    assert r.status_code == 413


def test_jsonl_upload_with_a_bad_line(fresh: tuple[TestClient, NewsQA]) -> None:
    client, svc = fresh
    lines = [
        json.dumps(GOOD),
        '{"title": "broken", "text": ',
        json.dumps({**GOOD, "url": "https://city.example.com/2", "title": "Second bridge story"}),
        json.dumps({"title": "Only a title"}),
    ]
    r = client.post("/api/articles", files={"file": ("news.jsonl", "\n".join(lines).encode())})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert (rep["added"], rep["skipped"]) == (2, 2)
    by_line = {p["line"]: p for p in rep["problems"]}
    assert by_line[2]["path"] == "news.jsonl" and "invalid JSON" in by_line[2]["reason"]
    assert "no text" in by_line[4]["reason"]
    assert [i["origin"] for i in rep["items"]] == ["news.jsonl:1", "news.jsonl:3"]
    assert svc.article("https://city.example.com/2")["title"] == "Second bridge story"


def test_upload_report_names_the_file_never_its_temporary_copy(
    fresh: tuple[TestClient, NewsQA],
) -> None:
    client, _ = fresh
    body = "\n".join([json.dumps(GOOD)] + ["[1]"] * 25).encode()  # 25 lines that are no object
    r = client.post("/api/articles", files={"file": ("many.jsonl", body)})
    rep = r.json()
    assert (rep["added"], rep["skipped"]) == (1, 25)
    assert {p["path"] for p in rep["problems"]} == {"many.jsonl"} and len(rep["problems"]) == 20
    assert rep["omitted"] == [{"path": "many.jsonl", "count": 5}]
    assert "newsqa-upload" not in r.text


def test_other_formats_upload(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh
    txt = b"title: Night market opens\ndate: 2023-05-01\n\nThe night market opened with 80 stalls."
    rep = client.post("/api/articles", files={"file": ("../../market.txt", txt)}).json()
    assert rep["added"] == 1 and rep["items"][0]["origin"] == "market.txt"
    gz = gzip.compress((json.dumps({**GOOD, "url": "https://gz.example.com/1"}) + "\n").encode())
    rep = client.post("/api/articles", files={"file": ("dump.jsonl.gz", gz)}).json()
    assert rep["added"] == 1


def test_streamed_ingest_shows_progress_then_done(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh
    docs = [{**GOOD, "url": f"https://city.example.com/{i}", "title": f"Story {i}",
             "text": GOOD["text"] + f" Update number {i}."} for i in range(30)]
    with client.stream("POST", "/api/articles?stream=true", json=docs) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        events = sse_events(r.read().decode())
    names = [e for e, _ in events]
    assert names[-1] == "done" and "progress" in names and set(names[:-1]) == {"progress"}
    last_progress = [d for e, d in events if e == "progress"][-1]
    assert last_progress["stage"] == "done" and last_progress["articles_read"] == 30
    assert last_progress["chunks_done"] == last_progress["chunks_total"]
    assert IngestResult.model_validate(events[-1][1]).added == 30
    accept = client.post("/api/articles", json=[GOOD], headers={"Accept": "text/event-stream"})
    assert sse_events(accept.text)[-1][0] == "done"


def test_delete_article(fresh: tuple[TestClient, NewsQA]) -> None:
    client, svc = fresh
    aid = client.post("/api/articles", json=[GOOD]).json()["items"][0]["id"]
    r = client.delete(f"/api/articles/{aid}")
    assert r.status_code == 200 and r.json() == {"deleted": aid}
    assert client.get(f"/api/articles/{aid}").status_code == 404
    assert client.delete(f"/api/articles/{aid}").status_code == 404
    assert svc.article(aid) is None


def test_ingest_counters_in_metrics(fresh: tuple[TestClient, NewsQA]) -> None:
    client, _ = fresh
    client.post("/api/articles", json=[GOOD, {"title": "x"}])
    client.post("/api/articles", json=[GOOD])
    text = client.get("/metrics").text
    assert 'newsqa_ingest_articles_total{status="added"} 1' in text
    assert 'newsqa_ingest_articles_total{status="skipped"} 1' in text
    assert 'newsqa_ingest_articles_total{status="unchanged"} 1' in text
    assert "newsqa_ingest_runs_total 2" in text


def test_deeply_nested_json_is_a_400_not_a_crash(fresh: tuple[TestClient, NewsQA]) -> None:
    """Issue 20: json.loads raised RecursionError and the upload answered 500."""
    client, svc = fresh
    before = svc.stats()["articles"]
    deep = b"[" * 20_000 + b"]" * 20_000  # under this fixture's 50,000-byte upload limit
    headers = {"Content-Type": "application/json"}
    for url in ("/api/articles", "/api/articles?stream=true"):
        r = client.post(url, content=deep, headers=headers)
        assert r.status_code == 400, (url, r.text)
        assert r.json()["detail"] == "invalid JSON body: nested too deeply"
    streamed = client.post("/api/articles", content=deep,
                           headers={**headers, "Accept": "text/event-stream"})
    assert streamed.status_code == 400 and "nested too deeply" in streamed.json()["detail"]
    # the same in a file is reported as that file's problem, as before
    rep = client.post("/api/articles", files={"file": ("deep.json", deep)}).json()
    assert rep["skipped"] == 1 and "nested too deeply" in rep["problems"][0]["reason"]
    assert svc.stats()["articles"] == before


def test_uploads_are_kept_in_the_index_and_removed_after_ingest(
    fresh: tuple[TestClient, NewsQA], monkeypatch: pytest.MonkeyPatch
) -> None:
    client, svc = fresh
    seen: list[Path] = []
    real_load = svc.load

    def load(paths: list[Path]) -> Any:
        seen.extend(paths)
        assert all(p.exists() for p in paths)
        return real_load(paths)

    monkeypatch.setattr(svc, "load", load)
    body = (json.dumps(GOOD) + "\n").encode()
    assert client.post("/api/articles", files={"file": ("news.jsonl", body)}).status_code == 200
    [path] = seen
    assert path.parent.parent == svc.index.path / UPLOADS_DIR
    assert path.name == "news.jsonl" and not path.parent.exists()
    assert list((svc.index.path / UPLOADS_DIR).iterdir()) == []


HOLD_AN_UPLOAD = """
import sys, time
from pathlib import Path
from newsqa.api.uploads import upload_folder
folder, lock = upload_folder(Path(sys.argv[1]))
(folder / "news.jsonl").write_bytes(b"x" * 100_000)
print(folder, flush=True)
time.sleep(600)
"""


def test_a_killed_servers_uploads_are_removed_at_the_next_start(tmp_path: Path) -> None:
    """Issue 20: upload folders of a server killed mid-upload outlived two restarts; the next
    start removes them, and only them (another process's upload in progress stays)."""
    index = tmp_path / "index"
    svc = open_service(index, embedding__embedder="hash")
    try:
        killed = subprocess.Popen([sys.executable, "-c", HOLD_AN_UPLOAD, str(index)],
                                  stdout=subprocess.PIPE, text=True)
        assert killed.stdout is not None
        left = Path(killed.stdout.readline().strip())
        live = subprocess.Popen([sys.executable, "-c", HOLD_AN_UPLOAD, str(index)],
                                stdout=subprocess.PIPE, text=True)
        assert live.stdout is not None
        in_use = Path(live.stdout.readline().strip())
        killed.send_signal(signal.SIGKILL)
        killed.wait()
        making = index / UPLOADS_DIR / f"{UPLOAD_PREFIX}making"  # no lock yet: just made
        making.mkdir()
        old = index / UPLOADS_DIR / f"{UPLOAD_PREFIX}old"  # no lock, an hour old
        old.mkdir()
        os.utime(old, (time.time() - 3600, time.time() - 3600))
        assert left.is_dir() and (left / "news.jsonl").stat().st_size == 100_000
        create_app(svc)  # a server starts
        assert not left.exists() and not old.exists()
        assert in_use.is_dir() and making.is_dir()
        live.kill()
        live.wait()
        assert clean_stale_uploads(index, grace_s=0) == 2
        assert list((index / UPLOADS_DIR).iterdir()) == []
    finally:
        for proc in (killed, live):
            proc.kill()
            proc.wait()
        svc.close()
