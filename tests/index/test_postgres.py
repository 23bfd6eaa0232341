"""What is particular to the PostgreSQL catalogue: its writer lock (an advisory lock, busy
across sessions), its errors (an unreachable server, a missing driver), one schema per index,
whole transactions when a writer is killed, the manifest kept as a row, and BM25 that ranks
as SQLite's FTS5 does."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from newsqa.index.errors import CatalogueUnavailableError, IndexBusyError, IndexMismatchError
from newsqa.index.store import NewsIndex
from newsqa.service import NewsQA
from tests.support import NEWS, REPO, article, free_port, open_service

pytestmark = pytest.mark.usefixtures("postgres_url")


def _svc(tmp_path: Path, url: str, name: str = "index", **kw: object) -> NewsQA:
    return open_service(tmp_path / name, embedding__embedder="hash", index__catalog_url=url, **kw)


def test_the_writer_lock_is_busy_across_sessions(tmp_path: Path, catalog_url: str) -> None:
    one = _svc(tmp_path, catalog_url, "a")
    two = _svc(tmp_path, catalog_url, "b")  # another node: its own directory and connections
    try:
        with one.index.writer():
            with pytest.raises(IndexBusyError, match="busy"):
                two.ingest_records(list(NEWS[:1]))
            with pytest.raises(IndexBusyError), two.index.writer():
                pass
        assert two.ingest_records(list(NEWS[:1])).added == 1  # free again once released
        assert one.stats()["articles"] == 1  # and seen by the other node
    finally:
        one.close()
        two.close()


def test_an_unreachable_server_says_so(tmp_path: Path) -> None:
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres?schema=nowhere"
    reached = r"cannot be reached.*NEWSQA_INDEX__CATALOG_URL"
    with pytest.raises(CatalogueUnavailableError, match=reached):
        _svc(tmp_path, url)


def test_a_missing_driver_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, catalog_url: str
) -> None:
    monkeypatch.setitem(sys.modules, "psycopg", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'newsqa\[postgres\]'"):
        _svc(tmp_path, catalog_url)


def test_the_default_install_never_imports_the_driver(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        from tests.support import NEWS, open_service
        svc = open_service({str(tmp_path / 'i')!r}, embedding__embedder="hash")
        svc.ingest_records(list(NEWS))
        assert svc.search("Tolva volcano", 1)
        svc.close()
        assert not [m for m in sys.modules if m.startswith("psycopg")], "psycopg imported"
    """)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True)
    assert done.returncode == 0, done.stderr.decode()[-2000:]


def test_each_index_is_a_schema_of_its_own(tmp_path: Path, postgres_url: str) -> None:
    a = _svc(tmp_path, f"{postgres_url}?schema=iso_a", "a")
    b = _svc(tmp_path, f"{postgres_url}?schema=iso_b", "b")
    try:
        a.ingest_records(list(NEWS))
        assert a.stats()["articles"] == 3 and b.stats()["articles"] == 0
        assert b.search("Tolva volcano", 3) == []
        with a.index.writer():  # a writer of one index does not hold up another
            assert b.ingest_records(list(NEWS[:1])).added == 1
    finally:
        a.close()
        b.close()
    with pytest.raises(ValueError, match="identifier"):
        _svc(tmp_path, f"{postgres_url}?schema=Bad;Name", "c")


def test_the_manifest_is_a_row_every_node_reads(tmp_path: Path, catalog_url: str) -> None:
    first = _svc(tmp_path, catalog_url, "a")
    first.ingest_records(list(NEWS[:1]))
    assert first.index.manifest.catalog == "postgres"
    first.close()
    assert not (tmp_path / "a" / "manifest.json").exists()
    again = _svc(tmp_path, catalog_url, "empty")  # a fresh node: nothing on its disk
    try:
        assert again.index.manifest == first.index.manifest
        assert again.stats()["articles"] == 1
    finally:
        again.close()
    other = replace(first.index.manifest, model="another-model")
    with pytest.raises(IndexMismatchError, match="model="):
        NewsIndex.open(tmp_path / "other", other, catalog_url=catalog_url)


def test_a_sqlite_index_directory_is_not_silently_shadowed(
    tmp_path: Path, catalog_url: str
) -> None:
    open_service(tmp_path / "i", embedding__embedder="hash").close()  # news.sqlite + manifest.json
    with pytest.raises(IndexMismatchError, match="migrate"):
        _svc(tmp_path, catalog_url, "i")


KILLED_WRITER = """
import sys, time
import newsqa.index.catalogue.postgres.writes as writes
from tests.support import NEWS, open_service

real = writes.insert_rows
def slow(conn, tokenizer, rows):
    out = real(conn, tokenizer, rows)  # rows written inside the open transaction
    print("inside", flush=True)
    time.sleep(60)
    return out
writes.insert_rows = slow
svc = open_service(sys.argv[1], embedding__embedder="hash", index__catalog_url=sys.argv[2])
svc.ingest_records(list(NEWS[1:]))
"""


def test_a_killed_writer_leaves_nothing_half_written(tmp_path: Path, catalog_url: str) -> None:
    svc = _svc(tmp_path, catalog_url, "a")
    try:
        svc.ingest_records(list(NEWS[:1]))
        before = (svc.stats()["articles"], svc.stats()["chunks"], svc.index.generation)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO / "src")}
        proc = subprocess.Popen(
            [sys.executable, "-c", KILLED_WRITER, str(tmp_path / "b"), catalog_url],
            cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )
        assert proc.stdout is not None
        line = proc.stdout.readline()
        assert line.strip() == b"inside", proc.stderr.read().decode()[-2000:] if proc.stderr else ""
        with pytest.raises(IndexBusyError):  # it holds the writer lock meanwhile
            svc.ingest_records(list(NEWS[2:]))
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        # the server ends the dead session: its transaction rolls back, its lock goes with it
        deadline = time.monotonic() + 30
        while True:
            try:
                report = svc.ingest_records(list(NEWS[:1]))
                break
            except IndexBusyError:
                assert time.monotonic() < deadline, "the dead writer's lock was never released"
                time.sleep(0.2)
        assert report.unchanged == 1
        assert (svc.stats()["articles"], svc.stats()["chunks"], svc.index.generation) == before
        assert svc.index.catalogue.chunk_count() == before[1]  # the lexical totals too
        assert svc.ingest_records(list(NEWS)).added == 2
    finally:
        svc.close()


TEXTS = [
    ("Grain deal extended", "Ukraine and Russia agreed to extend the Black Sea grain deal; "
     "grain exports resume. The grain corridor stays open."),
    ("Rates rise", "The central bank raised interest rates; rates rose for the eighth time."),
    ("Café owners", "Café owners in the old town say the café trade is slow; covid_19 rules "
     "and the co-op's ledger_book were blamed."),
    ("Counteroffensive", "Ukraine's counteroffensive began near Zaporizhzhia; grain silos hit."),
    ("Grain prices", "Wheat and grain prices fell after the deal. Running runners ran."),
]
WORDS = [["grain"], ["grain", "deal"], ["rates", "rising"], ["café"], ["covid_19"],
         ["ledger_book", "grain"], ["running"], ["ukraine", "counteroffensive", "silos"],
         ["nothing"], ["the"], ["co"]]


def test_bm25_ranks_as_fts5_does(tmp_path: Path, catalog_url: str) -> None:
    sq = open_service(tmp_path / "s", embedding__embedder="hash")
    pg = _svc(tmp_path, catalog_url, "p")
    try:
        for svc in (sq, pg):
            svc.ingest_records([article(t, x) for t, x in TEXTS])
            svc.delete(svc.search("Rates rise", 1)[0].article_id)  # deletes move the totals
            svc.ingest_records([article("Rates rise again", "Rates rose again, rates!")])
        for words in WORDS:
            for weight in (0.5, 1.0, 2.0):
                _same(sq.index.lexical(words, 10, weight), pg.index.lexical(words, 10, weight))
        assert sq.index.term_idf(["grain", "covid_19"]) == pytest.approx(
            pg.index.term_idf(["grain", "covid_19"]))
        assert sq.index.warm_lexical(0.5) == pg.index.warm_lexical(0.5) > 0  # frozen postings
        _same(sq.index.lexical(["grain", "deal"], 10, 0.5),
              pg.index.lexical(["grain", "deal"], 10, 0.5))
    finally:
        sq.close()
        pg.close()


def _same(a: list[tuple[int, float]], b: list[tuple[int, float]]) -> None:
    assert [i for i, _ in a] == [i for i, _ in b]
    assert np.allclose([s for _, s in a], [s for _, s in b], rtol=1e-6, atol=0)
