"""The edges of `serve` and `ingest` a new user meets: a taken port, Ctrl-C during an ingest,
what a folder walk passes over, and no empty index left by a first ingest that wrote nothing."""

from __future__ import annotations

import json
import re
import signal
import socket
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest

from newsqa.cli import EXIT_INTERRUPTED, EXIT_PORT, build_parser, main
from newsqa.testing.indexes import index_counts
from tests.support import REPO, hash_env, newsqa_command, synthetic_articles, write_jsonl


@pytest.fixture(autouse=True)
def hash_embedder(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")


def test_serve_on_a_taken_port_is_one_line_before_anything_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from newsqa.service import NewsQA

    def never(*_a: object, **_k: object) -> None:
        raise AssertionError("the index and the model were loaded for a port that is taken")

    monkeypatch.setattr(NewsQA, "open", never)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        code = main(["--index", str(tmp_path / "idx"), "serve", "--port", str(port)])
    err = capsys.readouterr().err.strip()
    assert code == EXIT_PORT == 8
    assert len(err.splitlines()) == 1, err
    assert f"port {port} is already in use" in err and "--port" in err
    assert not (tmp_path / "idx").exists()


def test_help_documents_the_new_exit_statuses() -> None:
    text = " ".join(build_parser().format_help().split())
    assert "8 serve cannot listen on the port" in text and "--port" in text
    assert "130 interrupted" in text
    ingest = build_parser()._subparsers._group_actions[0].choices["ingest"]  # type: ignore[union-attr]
    usage = " ".join(ingest.format_help().split())
    assert "--include-all" in usage and "README, LICENSE" in usage


N_INTERRUPTED = 1500


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def test_ctrl_c_during_ingest_says_what_was_saved_and_a_rerun_goes_on(tmp_path: Path) -> None:
    src = write_jsonl(tmp_path / "news.jsonl", synthetic_articles(N_INTERRUPTED))
    index = tmp_path / "idx"
    command = newsqa_command(index, "ingest", str(src))
    env = hash_env(ingest__commit_seconds="0.2", log__progress_interval="0.05")
    # Ctrl-C's default action even where this test runs in a background job, whose shell starts
    # it ignoring SIGINT (a child would inherit that and never be interrupted).
    proc = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, preexec_fn=_default_sigint)
    assert proc.stderr is not None
    for line in proc.stderr:  # mid-ingest: chunks are being embedded
        if re.match(r"embedding: [1-9][\d,]*/", line):
            break
    deadline = time.monotonic() + 60
    while index_counts(index)[0] == 0:  # the first timed commit, not a fixed wait: CPUs differ
        assert proc.poll() is None and time.monotonic() < deadline, "no commit before the end"
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    out, rest = proc.communicate(timeout=60)
    assert proc.returncode == EXIT_INTERRUPTED == 130, rest
    assert "Traceback" not in rest and "KeyboardInterrupt" not in rest
    said = [line for line in rest.splitlines() if line.startswith("interrupted")]
    assert len(said) == 1, rest
    saved = int(re.search(r"interrupted: ([\d,]+) articles saved", said[0])[1].replace(",", ""))
    # commits came every fraction of a second, not at the end
    assert 0 < saved < N_INTERRUPTED, said
    assert f"newsqa --index {index} ingest {src}" in said[0] and "again" in said[0]
    db = sqlite3.connect(index / "news.sqlite")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert db.execute("SELECT count(*) FROM articles").fetchone()[0] == saved
    finally:
        db.close()
    stats = subprocess.run(newsqa_command(index, "stats", "--json"), env=env,
                           capture_output=True, text=True, timeout=120)
    assert json.loads(stats.stdout)["articles"] == saved
    again = subprocess.run(command + ["--json"], env=env, capture_output=True, text=True,
                           timeout=300)
    report = json.loads(again.stdout)
    assert (report["unchanged"], report["added"]) == (saved, N_INTERRUPTED - saved), (
        again.stderr[-2000:])


def _untidy_folder(root: Path) -> Path:
    data = root / "data"
    (data / "sub").mkdir(parents=True)
    (data / ".git").mkdir()
    (data / ".git" / "HEAD.txt").write_text("ref: refs/heads/main")
    (data / "seed.txt").write_text(
        (REPO / "corpus" / "korea-us-vs-japan-us-alliance.txt").read_text())
    for name in ("a.pdf", "b.docx", "c.csv", "d.png", "notes"):
        (data / name).write_bytes(b"x,y\n")
    (data / "LICENSE").write_text("MIT License\n\nPermission is hereby granted, free of charge")
    (data / "README.md").write_text("# Data\n\nThe archive's files. Put news here.\n")
    (data / "sub" / "setup.md").write_text("# Setup\n\n## Steps\n\n```sh\nmake run\n```\n")
    return data


def test_a_folder_walk_reports_what_it_passes_over(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _untidy_folder(tmp_path)
    index = tmp_path / "idx"
    assert main(["--index", str(index), "ingest", str(data), "--no-progress"]) == 0
    out, err = capsys.readouterr()
    assert "1 added" in out
    lines = [line for line in err.splitlines() if line.startswith("not read")]
    assert len(lines) == 1, err
    for kind in (".pdf file", ".docx file", ".csv file", ".png file", "2 files without an "
                 "extension", "1 hidden folder", "2 text files not news", "-v lists them",
                 "--include-all"):
        assert kind in lines[0], lines[0]
    assert main(["-v", "--index", str(index), "ingest", str(data), "--no-progress"]) == 0
    listed = capsys.readouterr().err
    for name in ("a.pdf", "b.docx", "c.csv", "d.png", "notes", "LICENSE", ".git", "README.md",
                 "setup.md"):
        assert re.search(rf"not read \S*{re.escape(name)}: ", listed), (name, listed)
    assert main(["--index", str(index), "ingest", str(data), "--include-all", "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["added"] == 2 and "not news" not in report["not_read"]  # README.md, setup.md


def test_a_first_ingest_that_writes_nothing_leaves_no_index(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    index = tmp_path / "idx"
    assert main(["--index", str(index), "ingest", str(tmp_path / "missing"), "--no-progress"]) == 3
    assert "no such file or directory" in capsys.readouterr().err
    assert not index.exists()
    (tmp_path / "a.txt").write_text("title: A\ndate: 2024-01-02\n\nThe river rose overnight.")
    assert main(["--index", str(index), "ingest", str(tmp_path / "a.txt"), "--no-progress"]) == 0
    # An index that holds articles is never removed, whatever a later run does.
    assert main(["--index", str(index), "ingest", str(tmp_path / "missing"), "--no-progress"]) == 3
    assert (index / "news.sqlite").exists()
