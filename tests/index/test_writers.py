"""One writer at a time, and every process (every NewsIndex) sees the same index.

All with the hash embedder: these are about logic, not relevance.
"""

from __future__ import annotations

import json
import random
import sqlite3
import subprocess
import threading
import time
from pathlib import Path

import pytest

import newsqa.index.catalogue.sqlite as sqlite_catalogue
from newsqa.index.store import FORMAT_VERSION, IndexBusyError, NewsIndex
from newsqa.records import Filters
from newsqa.service import NewsQA
from tests.support import (
    NEWS,
    REPO,
    article,
    file_states,
    hash_env,
    index_counts,
    newsqa_command,
    open_service,
    synthetic_articles,
    write_jsonl,
)


def _open(path: Path) -> NewsQA:
    return open_service(path, embedding__embedder="hash")


def _dense_ids(svc: NewsQA, text: str, k: int = 50) -> set[int]:
    """Chunk ids the in-memory vectors return for ``text`` (dense side only)."""
    svc.index.refresh()
    qvec = svc.embedder.encode([text])[0]
    return {cid for cid, _ in svc.index.vectors.search(qvec, k)}


def _chunk_ids(path: Path, url: str) -> set[int]:
    db = sqlite3.connect(path / "news.sqlite")
    try:
        rows = db.execute(
            "SELECT c.id FROM chunks c JOIN articles a ON a.id=c.article_id WHERE a.url=?", (url,)
        ).fetchall()
    finally:
        db.close()
    return {r[0] for r in rows}


def test_delete_takes_the_writer_lock(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    svc.ingest_records(NEWS)
    other = NewsIndex.open(tmp_path / "idx", svc.index.manifest)  # as another process would
    with other.writer():
        with pytest.raises(IndexBusyError, match="is busy"):
            svc.delete(NEWS[0].url or "")
        with pytest.raises(IndexBusyError, match="is busy"):
            svc.ingest_records([article("Late", "A late story.", url="https://x.example/late")])
    assert svc.article(NEWS[0].url or "") is not None
    assert svc.delete(NEWS[0].url or "")  # free again


def test_delete_while_this_process_ingests_is_refused(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    svc.ingest_records(NEWS)
    errors: list[BaseException] = []
    with svc.index.writer():  # an upload ingest in another thread of the server, say

        def delete() -> None:
            try:
                svc.delete(NEWS[1].url or "")
            except BaseException as exc:  # noqa: BLE001 - inspected below
                errors.append(exc)

        t = threading.Thread(target=delete)
        t.start()
        t.join()
    assert len(errors) == 1 and isinstance(errors[0], IndexBusyError)
    assert svc.article(NEWS[1].url or "") is not None


def test_another_index_sees_ingest_and_delete_on_its_next_query(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    cli, server = _open(path), _open(path)
    cli.ingest_records(NEWS[:2])
    assert len(server.search("Hamlin", k=3)) > 0  # the server has loaded the index
    # Another process ingests, then the server deletes something before any query of its own.
    cli.ingest_records(NEWS[2:])
    assert server.delete(NEWS[0].url or "")
    volcano = _chunk_ids(path, NEWS[2].url or "")
    assert volcano and volcano <= _dense_ids(server, NEWS[2].text)
    assert len(server.index.vectors) == index_counts(path)[1]
    # The other way round: the server's delete is seen by the other process's next query.
    assert cli.delete(NEWS[2].url or "")
    assert not volcano & _dense_ids(server, NEWS[2].text)
    assert all(p.url != NEWS[2].url for p in server.search("Tolva volcano", k=5))
    assert len(server.index.vectors) == len(cli.index.vectors) == index_counts(path)[1]
    # A third process opening now agrees too.
    third = _open(path)
    assert len(third.index.vectors) == index_counts(path)[1]


def test_readers_never_write_vector_files(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    writer = _open(path)
    writer.ingest_records(NEWS)
    snapshot = file_states(path)
    assert snapshot["vectors.faiss"] is not None and snapshot["vectors.gen"] is not None
    reader = _open(path)
    writer.delete(NEWS[0].url or "")  # a delete rewrites no file either
    assert reader.search("Tolva volcano", k=3)
    assert reader.stats()["vectors"] == index_counts(path)[1]
    assert file_states(path) == snapshot
    # A reader opening an index without a snapshot rebuilds in memory and writes nothing.
    (path / "vectors.faiss").unlink()
    (path / "vectors.gen").unlink()
    late = _open(path)
    assert len(late.index.vectors) == index_counts(path)[1]
    assert late.search("Tolva volcano", k=3)
    assert file_states(path) == {"vectors.faiss": None, "vectors.gen": None}


def test_generation_and_change_log_commit_with_the_change(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "idx"
    svc = _open(path)
    svc.ingest_records(NEWS)
    gone = _chunk_ids(path, NEWS[0].url or "")
    before = svc.index.generation
    outside = sqlite3.connect(path / "news.sqlite")  # what another process sees
    seen: list[tuple[int, int, int]] = []

    def look() -> None:
        seen.append(
            (
                int(outside.execute("SELECT value FROM meta WHERE key='generation'").fetchone()[0]),
                outside.execute("SELECT count(*) FROM articles").fetchone()[0],
                outside.execute("SELECT count(*) FROM changes WHERE op=0").fetchone()[0],
            )
        )

    original = sqlite_catalogue._delete_rows

    def delete_rows(conn: sqlite3.Connection, id_or_url: str) -> list[int] | None:
        out = original(conn, id_or_url)
        look()  # inside the transaction: nothing of it shows yet
        return out

    monkeypatch.setattr(sqlite_catalogue, "_delete_rows", delete_rows)
    assert svc.delete(NEWS[0].url or "")
    look()
    assert seen == [(before, 3, 0), (before + 1, 2, len(gone))]
    logged = outside.execute("SELECT gen, chunk_id, op FROM changes ORDER BY chunk_id").fetchall()
    assert logged == [(before + 1, c, 0) for c in sorted(gone)]
    assert svc.index.loaded_generation == before + 1
    outside.close()


def test_source_filter_matches_however_the_outlet_is_written(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    bbc = article(
        "Storm closes schools", "Schools in the north closed as snow fell.",
        url="https://www.bbc.co.uk/news/1", source="www.bbc.co.uk", published_at="2023-01-05",
    )
    svc.ingest_records([bbc, *NEWS])
    for value in ("www.bbc.co.uk", "bbc.co.uk", "BBC.co.uk", " WWW.BBC.CO.UK "):
        f = Filters(sources=[value])
        assert [p.url for p in svc.search("snow schools", k=5, filters=f)] == [bbc.url]
        assert [a["url"] for a in svc.list_articles(f)["items"]] == [bbc.url]
    assert svc.search("snow schools", k=5, filters=Filters(sources=["cnn.com"])) == []
    assert svc.article(bbc.url or "")["source"] == "www.bbc.co.uk"  # shown as given


def test_format_1_index_is_upgraded_in_place(tmp_path: Path) -> None:
    path = tmp_path / "idx"
    svc = _open(path)
    svc.ingest_records(NEWS)
    svc.close()
    # Turn it back into what format 1 wrote: no change log, no source key.
    db = sqlite3.connect(path / "news.sqlite")
    db.executescript(
        "DROP TABLE changes; DELETE FROM meta WHERE key='log_start';"
        "DROP INDEX articles_source_key; ALTER TABLE articles DROP COLUMN source_key;"
        "UPDATE articles SET source='WWW.Money.Example.com' WHERE url LIKE '%money%';"
    )
    db.close()
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(dict(manifest, format_version=1)))
    again = _open(path)
    assert json.loads((path / "manifest.json").read_text())["format_version"] == FORMAT_VERSION
    hits = again.search("interest rates", k=3, filters=Filters(sources=["money.example.com"]))
    assert [p.url for p in hits] == [NEWS[1].url]
    assert again.delete(NEWS[2].url or "")
    assert len(_open(path).index.vectors) == index_counts(path)[1]


def test_unknown_format_fails_clearly(tmp_path: Path) -> None:
    from newsqa.index.store import IndexMismatchError

    path = tmp_path / "idx"
    _open(path).close()
    manifest = json.loads((path / "manifest.json").read_text())
    (path / "manifest.json").write_text(json.dumps(dict(manifest, format_version=99)))
    with pytest.raises(IndexMismatchError, match="format_version=99"):
        _open(path)


def test_queries_during_ingest_and_delete_in_one_process(tmp_path: Path) -> None:
    svc = _open(tmp_path / "idx")
    first = [article(**{k: v for k, v in r.items()}, origin="a") for r in synthetic_articles(40)]
    svc.ingest_records(first)
    errors: list[BaseException] = []
    stop = threading.Event()

    def query(n: int) -> None:
        rng = random.Random(n)
        while not stop.is_set():
            try:
                i = rng.randrange(80)
                svc.search(f"Drill story number {i}", k=5)
                f = Filters(sources=["outlet1.example.com"])
                svc.search(f"Drill story {i}", k=3, filters=f)
            except BaseException as exc:  # noqa: BLE001 - reported below
                errors.append(exc)
                return

    threads = [threading.Thread(target=query, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    try:
        more = [article(**r, origin="b") for r in synthetic_articles(40, start=40)]
        svc.ingest_records(more)
        for r in synthetic_articles(10):
            svc.delete(r["url"])
        svc.ingest_records(first[:10])
    finally:
        stop.set()
        for t in threads:
            t.join()
    assert errors == []
    assert index_counts(tmp_path / "idx")[0] == 80
    assert len(svc.index.vectors) == index_counts(tmp_path / "idx")[1]


def _consistent(path: Path) -> tuple[int, int]:
    """Open the index as a reader would: counts agree, and opening wrote no file."""
    n_articles, n_chunks, n_fts = index_counts(path)
    before = file_states(path)
    reader = _open(path)
    try:
        assert n_chunks == n_fts == len(reader.index.vectors) == reader.stats()["vectors"]
        assert reader.stats()["articles"] == n_articles
        qvec = reader.embedder.encode(["Drill story number 1"])[0]
        assert len(reader.index.vectors.search(qvec, 5)) == min(5, n_chunks)
    finally:
        reader.close()
    assert file_states(path) == before
    return n_articles, n_chunks


def _chunks_per_article(path: Path) -> dict[str, int]:
    db = sqlite3.connect(path / "news.sqlite")
    try:
        return dict(db.execute("SELECT article_id, count(*) FROM chunks GROUP BY article_id"))
    finally:
        db.close()


def test_kill_9_during_cli_ingest_leaves_a_consistent_index(tmp_path: Path) -> None:
    # Enough articles that an ingest on an idle machine is still running when it is killed.
    TOTAL = 1200  # noqa: N806
    path = tmp_path / "idx"
    src = write_jsonl(tmp_path / "news.jsonl", synthetic_articles(TOTAL))
    env = hash_env(ingest__batch_articles="8")
    cmd = newsqa_command(path, "ingest", str(src), "--no-progress")
    rng = random.Random(9)
    killed = 0
    seen: list[dict[str, int]] = []
    for _ in range(3):
        before = index_counts(path)[0]
        proc = subprocess.Popen(
            cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        deadline = time.monotonic() + 60
        while proc.poll() is None and index_counts(path)[0] <= before:
            assert time.monotonic() < deadline, "ingest made no progress"
            time.sleep(0.02)
        time.sleep(rng.uniform(0.0, 0.3))
        proc.kill()
        killed += proc.wait() == -9
        _consistent(path)
        seen.append(_chunks_per_article(path))
    assert killed >= 2
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _consistent(path)[0] == TOTAL
    # writes are timed, not counted, so a kill leaves any number of articles; each of them whole
    final = _chunks_per_article(path)
    for after_kill in seen:
        assert after_kill and all(final[a] == n for a, n in after_kill.items())
