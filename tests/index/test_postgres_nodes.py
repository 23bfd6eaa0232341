"""Query nodes that share nothing on disk: ``newsqa migrate`` copies a SQLite index into a
PostgreSQL catalogue (again: harmlessly), and two ``newsqa serve`` processes, each on its own
empty index directory, serve one archive: what is uploaded to one is answered by the other,
with the local backend and with a Milvus server they share (milvus-lite's own gRPC server)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from newsqa.cli import main
from newsqa.index.migrate import migrate
from tests.support import NEWS, REPO, hash_env, open_service, running_server

pytestmark = pytest.mark.usefixtures("postgres_url")


def test_migrate_copies_a_sqlite_index_and_running_it_again_is_harmless(
    tmp_path: Path, catalog_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    src = open_service(tmp_path / "sqlite", embedding__embedder="hash")
    src.ingest_records(list(NEWS))
    counts = src.stats()
    src.close()
    first = migrate(tmp_path / "sqlite", catalog_url)
    assert first["copied"] == 3 and first["skipped"] == 0
    assert first["target"]["articles"] == counts["articles"]
    assert first["target"]["chunks"] == counts["chunks"]
    assert main(["--index", str(tmp_path / "sqlite"), "migrate", "--to", catalog_url,
                 "--json"]) == 0
    again = json.loads(capsys.readouterr().out)
    assert again["copied"] == 0 and again["skipped"] == 3
    node = open_service(tmp_path / "node", embedding__embedder="hash",
                        index__catalog_url=catalog_url)
    try:
        assert node.stats()["articles"] == 3 and node.stats()["chunks"] == counts["chunks"]
        assert node.search("Tolva volcano", 1)[0].title.startswith("Volcano")
        assert node.index.manifest.model == counts["manifest"]["model"]
    finally:
        node.close()
    assert main(["--index", str(tmp_path / "none"), "migrate", "--to", catalog_url]) == 2


def test_an_unreachable_catalogue_is_exit_7(tmp_path: Path) -> None:
    env = hash_env(index__catalog_url="postgresql://postgres@127.0.0.1:1/postgres")
    done = subprocess.run(
        [sys.executable, "-m", "newsqa.cli", "--index", str(tmp_path / "i"), "stats"],
        cwd=REPO, env={**env, "PYTHONPATH": str(REPO / "src")}, capture_output=True,
    )
    assert done.returncode == 7, done.stderr.decode()[-2000:]
    assert b"cannot be reached" in done.stderr


def _two_nodes_serve_one_archive(tmp_path: Path, env: dict[str, str], private: set[str]) -> None:
    """Two servers on empty directories: an upload to one is found by the other, a delete
    through the other is gone from the first, and neither keeps any of ``private`` on disk."""
    doc = {"title": NEWS[2].title, "text": NEWS[2].text, "url": NEWS[2].url,
           "source": NEWS[2].source, "published_at": NEWS[2].published_at}
    with running_server(tmp_path / "a", env=env) as (_, a), \
            running_server(tmp_path / "b", env=env) as (_, b):
        r = httpx.post(f"{a}/api/articles", json=[doc], timeout=60)
        assert r.status_code == 200 and r.json()["added"] == 1, r.text
        found = httpx.post(f"{b}/api/search", json={"query": "Tolva volcano", "k": 3},
                           timeout=60).json()
        assert [p["title"] for p in found["passages"]][:1] == [NEWS[2].title]
        gone = httpx.delete(f"{b}/api/articles/{found['passages'][0]['article_id']}",
                            timeout=60)
        assert gone.status_code == 200, gone.text
        again = httpx.post(f"{a}/api/search", json={"query": "Tolva volcano", "k": 3},
                           timeout=60).json()
        assert again["passages"] == []
    for node in ("a", "b"):
        names = {p.name for p in (tmp_path / node).iterdir()}
        assert not names & private, names


def test_two_servers_on_empty_directories_serve_one_archive(
    tmp_path: Path, catalog_url: str
) -> None:
    env = {**hash_env(index__catalog_url=catalog_url), "PYTHONPATH": str(REPO / "src")}
    # neither node writes a catalogue of its own: only caches it can rebuild
    _two_nodes_serve_one_archive(tmp_path, env, {"news.sqlite", "manifest.json", "ingest.lock"})


def test_two_servers_share_one_milvus_server_and_one_catalogue(
    tmp_path: Path, catalog_url: str
) -> None:
    """postgres + milvus across nodes: milvus-lite's own gRPC server stands in for a Milvus
    server that several processes share."""
    pytest.importorskip("pymilvus", reason="pip install 'newsqa[milvus]'")
    pytest.importorskip("milvus_lite", reason="pip install 'newsqa[milvus]'")
    from newsqa.testing.servers import milvus_server

    with milvus_server() as milvus:
        env = {**hash_env(index__catalog_url=catalog_url, index__backend="milvus",
                          milvus__uri=milvus), "PYTHONPATH": str(REPO / "src")}
        # the shared server holds the collection, not a file of a node's
        _two_nodes_serve_one_archive(
            tmp_path, env, {"milvus.db", "news.sqlite", "manifest.json", "ingest.lock"})
