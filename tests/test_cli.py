"""The command line, in process (fast) and once as the installed console script."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from newsqa.cli import main
from newsqa.index.manifest import IndexManifest, read_manifest
from tests.support import REPO, SEED_QUESTION


@pytest.fixture(autouse=True)
def hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI is tested for its logic: the model-free embedder keeps it exact and fast."""
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")


def build_index(root: Path) -> Path:
    """The seed article and one news line (plus a broken line) ingested through the CLI."""
    folder = root / "in"
    folder.mkdir()
    (folder / "seed.txt").write_text(
        (REPO / "corpus" / "korea-us-vs-japan-us-alliance.txt").read_text()
    )
    (folder / "news.jsonl").write_text(
        json.dumps(
            {
                "url": "https://cnn.com/a",
                "title": "Storm hits coast",
                "text": "A winter storm hit the coast on Monday, cutting power to 40,000 homes.",
                "published_at": "2023-01-16",
            }
        )
        + "\n{broken line\n"
    )
    assert main(["--index", str(root / "idx"), "ingest", str(folder), "--no-progress"]) == 3
    return root / "idx"


@pytest.fixture(scope="module")
def index_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared index that no test changes."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
        return build_index(tmp_path_factory.mktemp("cli"))


def test_ingest_summary_reports_skipped_lines(
    index_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = index_dir.parent / "in"
    code = main(["--index", str(index_dir), "ingest", str(folder), "--no-progress"])
    out, err = capsys.readouterr()
    assert code == 3
    assert "0 added, 0 updated, 2 unchanged, 1 skipped" in out
    assert "news.jsonl:2" in err


def test_ask_json_shape_and_filters(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--index", str(index_dir), "ask", SEED_QUESTION, "--json", "--k", "3"]) == 0
    res = json.loads(capsys.readouterr().out)
    assert res["abstained"] is False and res["citations"][0]["published_at"] == "2013-11-30"
    assert len(res["passages"]) == 3
    # An outlet that is not in the archive: nothing, and the answer says so.
    assert (
        main(["--index", str(index_dir), "ask", SEED_QUESTION, "--json", "--source", "bbc.co.uk"])
        == 0
    )
    res = json.loads(capsys.readouterr().out)
    assert res["abstained"] is True and res["passages"] == []


def test_search_json_in_rank_order(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(["--index", str(index_dir), "search", "winter storm power", "--json", "--k", "2"]) == 0
    )
    passages = json.loads(capsys.readouterr().out)["passages"]
    assert passages[0]["source"] == "cnn.com"
    assert [p["score"] for p in passages] == sorted((p["score"] for p in passages), reverse=True)


def test_as_of_and_dates(index_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["--index", str(index_dir), "search", "winter storm", "--json", "--as-of", "2023-01-01"]
    assert main(args) == 0
    assert all(p["source"] != "cnn.com" for p in json.loads(capsys.readouterr().out)["passages"])
    with pytest.raises(SystemExit) as exc:
        main(["--index", str(index_dir), "search", "storm", "--since", "last week"])
    assert exc.value.code == 2
    assert "not a date" in capsys.readouterr().err


def test_stats_and_delete(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    index_dir = build_index(tmp_path)  # its own index: deleting must not affect other tests
    capsys.readouterr()
    assert main(["--index", str(index_dir), "stats", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["articles"] == 2
    assert main(["--index", str(index_dir), "delete", "https://cnn.com/a"]) == 0
    assert main(["--index", str(index_dir), "delete", "https://cnn.com/a"]) == 1
    assert "no article" in capsys.readouterr().err
    assert main(["--index", str(index_dir), "stats", "--json"]) == 0
    st = json.loads(capsys.readouterr().out)
    assert st["articles"] == 1 and st["vectors"] == st["chunks"] > 0


def test_missing_index_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--index", str(tmp_path / "nope"), "ask", "anything"]) == 2
    assert "no index at" in capsys.readouterr().err


def test_console_script_help_lists_commands() -> None:
    exe = Path(sys.executable).parent / "newsqa"
    out = subprocess.run(
        [str(exe), "--help"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    ).stdout
    for cmd in ("ingest", "ask", "search", "stats", "delete", "serve", "eval"):
        assert cmd in out


def test_busy_index_is_one_line_and_exit_status_4(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsqa.cli import EXIT_BUSY
    from newsqa.index.store import NewsIndex

    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    path = tmp_path / "idx"
    assert main(["--index", str(path), "ingest", str(REPO / "corpus"), "--no-progress"]) == 0
    article_id = NewsIndex.open(path, _manifest(path)).list_articles()[1][0]["id"]
    capsys.readouterr()
    other = NewsIndex.open(path, _manifest(path))  # another process writing
    with other.writer():
        for args in (["delete", article_id], ["ingest", str(REPO / "corpus"), "--no-progress"]):
            assert main(["--index", str(path), *args]) == EXIT_BUSY == 4
            out, err = capsys.readouterr()
            assert out == "" and err.startswith("error: index ") and "busy" in err
            assert len(err.strip().splitlines()) == 1
    assert main(["--index", str(path), "delete", article_id]) == 0


def _manifest(path: Path) -> IndexManifest:
    manifest = read_manifest(path)
    assert manifest is not None
    return manifest


def test_ask_and_eval_generate_through_a_model_server(
    index_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from tests.fake_llm import FakeLLM, fake_llm_server

    script = FakeLLM(reply=lambda m: (
        "A winter storm hit the coast on Monday and cut power to homes [1]. "
        "It cut power to 90,000 homes [1]."
    ))
    assert main(["--index", str(index_dir), "ask", "--generate", "Did a storm hit?"]) == 5
    assert "NEWSQA_GENERATOR__URL" in capsys.readouterr().err
    with fake_llm_server(script) as url:
        monkeypatch.setenv("NEWSQA_GENERATOR__URL", url)
        assert main(["--index", str(index_dir), "ask", "--generate", "What hit the coast?"]) == 0
        out = capsys.readouterr().out
        assert "A winter storm hit the coast on Monday and cut power to homes. [1]" in out
        assert "90,000 homes. (not supported by the sources)" in out
        assert "Claims: 2 checked, 1 supported, 1 flagged, 0 dropped" in out
        questions = tmp_path / "q.jsonl"
        questions.write_text(json.dumps({
            "id": "q1", "date": "2023-01-20", "question": "What hit the coast on Monday?",
            "answer": "A winter storm", "choices": ["A winter storm", "A flood"],
            "gold_urls": ["https://cnn.com/a"], "answerable": True,
        }) + "\n")
        assert main(["--index", str(index_dir), "eval", str(questions), "--generate",
                     "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["generated_share"] == 1.0 and summary["claims_checked"] == 2
    assert summary["claims_supported"] == 0.5 and summary["claims_flagged"] == 0.5
    assert summary["answer_hit"] == 1.0


def test_sentences_adds_the_vectors_an_index_lacks(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__SENTENCE_VECTORS", "false")
    idx = build_index(tmp_path)
    capsys.readouterr()
    monkeypatch.delenv("NEWSQA_EMBEDDING__SENTENCE_VECTORS")
    assert main(["--index", str(idx), "sentences", "--no-progress"]) == 0
    chunks = json.loads(_stats(idx, capsys))["chunks"]
    assert main(["--index", str(idx), "sentences", "--no-progress"]) == 0
    out = capsys.readouterr().out
    assert "sentence vectors stored for 0 chunks" in out  # nothing left: a rerun is a no-op
    db = sqlite3.connect(idx / "news.sqlite")
    assert db.execute("SELECT count(*) FROM sentences").fetchone()[0] == chunks > 0


def _stats(idx: Path, capsys: pytest.CaptureFixture[str]) -> str:
    first = capsys.readouterr().out
    assert "sentence vectors stored for" in first and " 0 chunks" not in first
    assert main(["--index", str(idx), "stats", "--json"]) == 0
    return capsys.readouterr().out


def _assert_storage_message(code: int, err: str, index: Path) -> None:
    assert code == 6
    assert err.startswith(f"error: cannot write the index at {index}")
    assert "newsqa runs as" in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.skipif(hasattr(os, "geteuid") and os.geteuid() == 0,
                    reason="root writes any directory: the simulated case below covers root")
def test_unwritable_index_directory_is_one_line_and_exit_6(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A container's /data mounted from a directory its user cannot write: a message, no trace."""
    data = tmp_path / "data"
    data.mkdir()
    data.chmod(0o555)
    try:
        code = main(["--index", str(data / "index"), "serve", "--port", "1"])
    finally:
        data.chmod(0o755)
    _assert_storage_message(code, capsys.readouterr().err, data / "index")
    assert not (data / "index").exists()


def test_permission_error_opening_the_index_is_exit_6(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The same rule where the test runs as root (who may write anywhere): the error the open
    raises for an unwritable or read-only directory becomes the one-line message and status 6,
    naming the owner of the nearest existing directory; any other OSError still propagates."""
    import errno

    from newsqa.service import NewsQA

    index = tmp_path / "data" / "index"

    def refuse(*_a: object, **_k: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied", str(index))

    monkeypatch.setattr(NewsQA, "open", refuse)
    code = main(["--index", str(index), "ingest", str(tmp_path)])
    err = capsys.readouterr().err
    _assert_storage_message(code, err, index)
    assert f"{tmp_path} is owned by uid {tmp_path.stat().st_uid}" in err

    def read_only(*_a: object, **_k: object) -> None:
        raise OSError(errno.EROFS, "Read-only file system", str(index))

    monkeypatch.setattr(NewsQA, "open", read_only)
    assert main(["--index", str(index), "stats"]) == 6
    assert "read-only file system" in capsys.readouterr().err

    def other(*_a: object, **_k: object) -> None:
        raise OSError(errno.EIO, "I/O error")

    monkeypatch.setattr(NewsQA, "open", other)
    with pytest.raises(OSError, match="I/O error"):
        main(["--index", str(index), "stats"])


def test_serve_port_defaults_to_newsqa_port(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`serve` without --port listens on NEWSQA_API__PORT (the image's healthcheck asks that
    port)."""
    import newsqa.api.server as server
    import newsqa.cli as cli

    seen: list[int] = []
    monkeypatch.setattr(server, "serve", lambda _svc, _host, port, _workers: seen.append(port))
    monkeypatch.setattr(cli, "port_problem", lambda _host, _port: None)  # whoever holds them
    monkeypatch.setenv("NEWSQA_API__PORT", "8765")
    monkeypatch.setenv("NEWSQA_INDEX__PATH", str(tmp_path / "index"))
    assert main(["serve"]) == 0
    assert seen == [8765]
    assert main(["serve", "--port", "9001"]) == 0
    assert seen == [8765, 9001]
