"""Tests for the article loaders, on real files written to tmp_path."""

from __future__ import annotations

import gzip
import json
import logging
import random
import re
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from newsqa.api.factory import create_app
from newsqa.api.uploads import json_records
from newsqa.cli import main
from newsqa.ingest.load import SUPPORTED_SUFFIXES, iter_articles, reading
from newsqa.records import Article, LoadProblem, LoadWarning, NotRead
from newsqa.service import NewsQA
from tests.support import open_service

BODY = "The council approved the new budget on Monday.\n\nSpending on schools rises by 4%."


def load(*paths: Path, **kw: int) -> list[Article | LoadProblem]:
    return list(iter_articles(list(paths), **kw))


def articles(results: list[Article | LoadProblem]) -> list[Article]:
    assert all(isinstance(r, Article) for r in results), [str(r) for r in results]
    return [r for r in results if isinstance(r, Article)]


def problems(results: list[Article | LoadProblem]) -> list[LoadProblem]:
    return [r for r in results if isinstance(r, LoadProblem)]


def record(n: int, **extra: object) -> dict[str, object]:
    return {"id": f"a{n}", "url": f"https://www.example.com/{n}", "title": f"Story {n}",
            "text": f"Body of story {n}.", "published_at": "2023-01-05", **extra}


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


# --- text files --------------------------------------------------------------------------------


def test_txt_with_headers(tmp_path: Path) -> None:
    path = tmp_path / "budget.txt"
    path.write_text(
        "Title: Council passes budget\nDate: March 4, 2024\nURL: https://www.citynews.com/b\n"
        "Authors: Ann Lee, Bo Chan\nID: b-1\n\n" + BODY + "\n",
        encoding="utf-8",
    )
    [art] = articles(load(path))
    assert art.title == "Council passes budget"
    assert art.text == BODY
    assert art.published_at == "2024-03-04"
    assert art.url == "https://www.citynews.com/b"
    assert art.source == "citynews.com"
    assert art.authors == ["Ann Lee", "Bo Chan"]
    assert art.id == "b-1"
    assert art.origin == str(path)


def test_txt_headers_then_title_line(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("source: City News\ndate: 2024-03-04\n\nCouncil passes budget\n" + BODY)
    [art] = articles(load(path))
    assert (art.title, art.text, art.source) == ("Council passes budget", BODY, "City News")


def test_seed_like_txt_title_line_then_headers(tmp_path: Path) -> None:
    path = tmp_path / "korea-us-vs-japan-us-alliance.txt"
    path.write_text(
        "Korea-US Alliance vs. Japan-US Alliance\n"
        "author: Jack H. Park\n"
        "date: 2013-11-30\n"
        "\n"
        "An official at the US Department of Defense recently said that the US government "
        "welcomes Japan’s efforts.\n\nThis announcement is regarded as an expression of support.\n",
        encoding="utf-8",
    )
    [art] = articles(load(path))
    assert art.title == "Korea-US Alliance vs. Japan-US Alliance"
    assert art.authors == ["Jack H. Park"]
    assert art.published_at == "2013-11-30"
    assert art.text.startswith("An official at the US Department of Defense")
    assert "Jack H. Park" not in art.text
    assert art.source is None and art.url is None


def test_txt_without_headers_uses_first_line_as_title(tmp_path: Path) -> None:
    path = tmp_path / "plain.txt"
    path.write_text("\n\nCouncil passes budget\n\n" + BODY)
    [art] = articles(load(path))
    assert (art.title, art.text, art.published_at) == ("Council passes budget", BODY, None)


def test_markdown_heading_and_front_matter(tmp_path: Path) -> None:
    heading = tmp_path / "a.md"
    heading.write_text("# Council passes budget\n\n" + BODY)
    front = tmp_path / "b.md"
    front.write_text('---\ntitle: "Budget, part two"\ntags: [x]\ndate: 2024-03-05\n---\n\n' + BODY)
    first, second = articles(load(heading, front))
    assert (first.title, first.text) == ("Council passes budget", BODY)
    assert (second.title, second.text, second.published_at) == (
        "Budget, part two", BODY, "2024-03-05")


def test_latin1_txt_is_decoded(tmp_path: Path) -> None:
    path = tmp_path / "legacy.txt"
    text = "Title: Le café du coin\n\nUn café très apprécié à Montréal.\n"
    path.write_bytes(text.encode("cp1252"))
    [art] = articles(load(path))
    assert art.title == "Le café du coin"
    assert art.text == "Un café très apprécié à Montréal."


def test_title_only_and_empty_files_are_problems(tmp_path: Path) -> None:
    (tmp_path / "a_title_only.txt").write_text("title: Just a headline\n\n")
    (tmp_path / "b_empty.txt").write_text("")
    first, second = problems(load(tmp_path))
    assert first == LoadProblem(str(tmp_path / "a_title_only.txt"),
                                "article 'Just a headline' has no text")
    assert second.reason == "no title and no text"


def test_missing_title_is_made_from_text(tmp_path: Path) -> None:
    path = tmp_path / "a.jsonl"
    words = "one two three four five six seven eight nine ten eleven twelve thirteen fourteen"
    write_jsonl(path, [json.dumps({"text": words})])
    [art] = articles(load(path))
    assert art.title == "one two three four five six seven eight nine ten eleven twelve…"


# --- HTML --------------------------------------------------------------------------------------

HTML = """<!DOCTYPE html>
<html><head><title>Council passes budget | City News</title>
<meta name="author" content="Ann Lee">
<meta property="og:site_name" content="City News">
<meta property="article:published_time" content="2024-03-04T09:00:00Z">
<link rel="canonical" href="https://www.citynews.com/budget">
</head><body>
<nav><a href="/">Home</a> | <a href="/news">News</a></nav>
<article><h1>Council passes budget</h1>
<p>The council approved the new budget on Monday after a long debate about school funding.</p>
<p>Spending on schools rises by four percent, the largest increase in a decade.</p>
</article>
<footer>Copyright City News</footer>
<script>var tracking = "should not appear";</script>
</body></html>"""


def test_html_article(tmp_path: Path) -> None:
    path = tmp_path / "budget.HTML"
    path.write_text(HTML, encoding="utf-8")
    [art] = articles(load(path))
    assert art.title == "Council passes budget"
    assert art.text == (
        "The council approved the new budget on Monday after a long debate about school funding."
        "\n\nSpending on schools rises by four percent, the largest increase in a decade.")
    assert art.url == "https://www.citynews.com/budget"
    assert art.source == "City News"
    assert art.published_at == "2024-03-04"
    assert art.authors == ["Ann Lee"]


def test_html_title_falls_back_to_title_tag(tmp_path: Path) -> None:
    path = tmp_path / "bare.htm"
    path.write_text("<html><head><title>Short note</title></head>"
                    "<body><div>A short note about the weather today.</div></body></html>")
    [art] = articles(load(path))
    assert art.title == "Short note"
    assert art.text == "A short note about the weather today."


# --- JSON / JSONL ------------------------------------------------------------------------------


def test_json_single_object_with_aliases(tmp_path: Path) -> None:
    path = tmp_path / "one.json"
    path.write_text(json.dumps({
        "headline": "Council passes budget", "link": "https://www.citynews.com/b",
        "body": BODY, "publish_date": "Mon, 04 Mar 2024 09:00:00 +0000", "outlet": "City News",
        "author": "By Ann Lee and Bo Chan", "id": 17,
    }))
    [art] = articles(load(path))
    assert art == Article(
        title="Council passes budget", text=BODY, url="https://www.citynews.com/b",
        source="City News", published_at="2024-03-04", authors=["Ann Lee", "Bo Chan"], id="17",
        origin=str(path),
    )


def test_json_list_and_wrapped_list(tmp_path: Path) -> None:
    listed = tmp_path / "list.json"
    listed.write_text(json.dumps([record(1), record(2)]))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"status": "ok", "articles": [record(3)]}))
    arts = articles(load(listed, wrapped))
    assert [a.title for a in arts] == ["Story 1", "Story 2", "Story 3"]
    assert [a.origin for a in arts] == [f"{listed}#1", f"{listed}#2", f"{wrapped}#1"]
    assert arts[0].source == "example.com"


def test_json_bad_item_and_invalid_json(tmp_path: Path) -> None:
    mixed = tmp_path / "a.json"
    mixed.write_text(json.dumps([record(1), "oops", {"title": "No body"}]))
    broken = tmp_path / "b.json"
    broken.write_text('{"title": "x",\n "text": }')
    results = load(mixed, broken)
    assert [type(r).__name__ for r in results] == ["Article", "LoadProblem", "LoadProblem",
                                                   "LoadProblem"]
    _, bad_item, no_text, invalid = results
    assert isinstance(bad_item, LoadProblem) and bad_item.reason == "item 2: not a JSON object"
    assert isinstance(no_text, LoadProblem) and no_text.reason.startswith("item 3:")
    assert isinstance(invalid, LoadProblem)
    assert invalid.line == 2 and invalid.reason.startswith("invalid JSON")


def test_jsonl(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [json.dumps(record(1)), "", json.dumps(record(2))])
    arts = articles(load(path))
    assert [(a.id, a.origin) for a in arts] == [("a1", f"{path}:1"), ("a2", f"{path}:3")]


def test_jsonl_bad_line_reports_line_number_and_continues(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", [
        json.dumps(record(1)), "{not json", json.dumps(record(3)), "[1, 2]",
        json.dumps({"title": "empty", "text": "   "}), json.dumps(record(6)),
    ])
    results = load(path)
    assert [a.id for a in results if isinstance(a, Article)] == ["a1", "a3", "a6"]
    assert [(p.line, p.path) for p in problems(results)] == [(2, str(path)), (4, str(path)),
                                                             (5, str(path))]
    assert problems(results)[0].reason.startswith("invalid JSON")
    assert str(problems(results)[0]) == f"{path}:2: {problems(results)[0].reason}"


def test_jsonl_gz_and_truncated_gzip(tmp_path: Path) -> None:
    lines = "".join(json.dumps(record(n, text=f"Body {n}. " * 50)) + "\n" for n in range(200))
    data = gzip.compress(lines.encode("utf-8"))
    good = tmp_path / "good.JSONL.GZ"
    good.write_bytes(data)
    assert len(articles(load(good))) == 200

    cut = tmp_path / "cut.jsonl.gz"
    cut.write_bytes(data[: len(data) // 2])
    results = load(cut)
    *arts, last = results
    assert [a.id for a in arts if isinstance(a, Article)] == [f"a{n}" for n in range(93)]
    assert last == LoadProblem(str(cut), "corrupt or truncated gzip stream after line 93: "
                               "Compressed file ended before the end-of-stream marker was reached")

    fake = tmp_path / "fake.jsonl.gz"
    fake.write_text(json.dumps(record(1)))
    [problem] = load(fake)
    assert isinstance(problem, LoadProblem) and "gzip" in problem.reason


# --- feeds -------------------------------------------------------------------------------------

RSS = """<?xml version="1.0" encoding="UTF-8"?>
<rss version="2.0"><channel>
<title>City News</title><link>https://www.citynews.com/</link><description>Local</description>
<item><title>Council passes budget</title><link>https://other.example.org/budget</link>
<guid>budget-1</guid><pubDate>Mon, 04 Mar 2024 09:00:00 +0000</pubDate>
<description><![CDATA[<p>The council <b>approved</b> the budget.</p><p>Schools gain.</p>]]>
</description>
</item>
<item><title>Bridge reopens</title><link>https://www.citynews.com/bridge</link>
<pubDate>Tue, 05 Mar 2024 10:00:00 GMT</pubDate><description>The bridge is open again.</description>
</item>
</channel></rss>"""

ATOM = """<?xml version="1.0" encoding="utf-8"?>
<feed xmlns="http://www.w3.org/2005/Atom"><title>Wire</title><id>urn:wire</id>
<updated>2024-03-04T12:00:00Z</updated>
<entry><title>Storm hits coast</title><id>urn:wire:1</id>
<link href="https://www.wire.example.com/storm"/><updated>2024-03-04T12:00:00Z</updated>
<author><name>Ann Lee</name></author>
<summary>Short summary.</summary>
<content type="html">&lt;p&gt;A storm hit the coast overnight.&lt;/p&gt;
&lt;p&gt;Power is out.&lt;/p&gt;</content>
</entry></feed>"""


def test_rss_feed(tmp_path: Path) -> None:
    path = tmp_path / "feed.rss"
    path.write_text(RSS, encoding="utf-8")
    first, second = articles(load(path))
    assert first.title == "Council passes budget"
    assert first.text == "The council approved the budget.\n\nSchools gain."
    assert first.published_at == "2024-03-04"
    assert first.url == "https://other.example.org/budget"
    assert first.source == "citynews.com"  # the feed's own link wins over the entry's
    assert first.id == "budget-1"
    assert first.origin == f"{path}#1"
    assert (second.title, second.text, second.published_at) == (
        "Bridge reopens", "The bridge is open again.", "2024-03-05")


def test_atom_feed(tmp_path: Path) -> None:
    path = tmp_path / "wire.atom"
    path.write_text(ATOM, encoding="utf-8")
    [art] = articles(load(path))
    assert art.title == "Storm hits coast"
    assert art.text == "A storm hit the coast overnight.\n\nPower is out."
    assert art.published_at == "2024-03-04"
    assert art.source == "wire.example.com"  # no feed link: the entry's domain
    assert art.authors == ["Ann Lee"]


def test_xml_that_is_not_a_feed(tmp_path: Path) -> None:
    path = tmp_path / "catalog.xml"
    path.write_text('<?xml version="1.0"?><catalog><book id="1">A</book></catalog>')
    [problem] = load(path)
    assert isinstance(problem, LoadProblem) and "not an RSS or Atom feed" in problem.reason


# --- folders, paths, limits --------------------------------------------------------------------


def test_folder_with_one_broken_file(tmp_path: Path) -> None:
    (tmp_path / "b_good.txt").write_text("Title: Good B\n\nText B.")
    (tmp_path / "a_broken.json").write_text('{"title": "broken"')
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "c_good.md").write_text("# Good C\n\nText C.")
    write_jsonl(sub / "d_good.jsonl", [json.dumps(record(4))])
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")  # unsupported: counted, not read
    (tmp_path / ".hidden.txt").write_text("Title: Hidden\n\nSecret.")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "x.txt").write_text("Title: Hidden too\n\nSecret.")

    everything = load(tmp_path)
    passed = [r for r in everything if isinstance(r, NotRead)]
    assert [(Path(r.path).name, r.kind) for r in passed] == [
        (".git", "hidden folder"), (".hidden.txt", "hidden file"), ("notes.pdf", ".pdf")]
    results = [r for r in everything if not isinstance(r, NotRead)]
    assert [type(r).__name__ for r in results] == ["LoadProblem", "Article", "Article", "Article"]
    broken = problems(results)[0]
    assert broken.path == str(tmp_path / "a_broken.json")
    assert broken.reason.startswith("invalid JSON")
    assert [a.title for a in results if isinstance(a, Article)] == ["Good B", "Good C", "Story 4"]


def test_explicit_unsupported_file_and_missing_path(tmp_path: Path) -> None:
    pdf = tmp_path / "notes.pdf"
    pdf.write_bytes(b"%PDF-1.4")
    missing = tmp_path / "nope"
    unsupported, absent = load(pdf, missing)
    assert isinstance(unsupported, LoadProblem) and unsupported.path == str(pdf)
    assert "unsupported file type" in unsupported.reason and ".jsonl.gz" in unsupported.reason
    assert absent == LoadProblem(str(missing), "no such file or directory")


def test_supported_suffixes() -> None:
    assert set(SUPPORTED_SUFFIXES) >= {".txt", ".md", ".html", ".htm", ".json", ".jsonl",
                                       ".jsonl.gz", ".xml", ".rss", ".atom"}


def test_oversized_text_is_truncated_with_a_warning_in_the_results(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "long.txt"
    sentence = "Ça coûte très cher, dit-il. "
    path.write_text("Title: Long\n\n" + sentence * 100, encoding="utf-8")
    with caplog.at_level(logging.WARNING, logger="newsqa.ingest"):
        warning, art = load(path, max_bytes=500)
    assert isinstance(art, Article) and isinstance(warning, LoadWarning)
    assert len(art.text.encode("utf-8")) == 495
    assert art.text.endswith("dit-il.")
    assert warning == LoadWarning(
        str(path), "text is 3,099 bytes, truncated to 495 (max_article_bytes=500)"
    )
    assert not caplog.records, "reported once, in the results, not logged as well"


def test_text_within_limit_is_not_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    path = tmp_path / "short.txt"
    path.write_text("Title: Short\n\nFine.")
    with caplog.at_level(logging.WARNING, logger="newsqa.ingest"):
        assert [a.text for a in articles(load(path))] == ["Fine."]
    assert not caplog.records


def test_a_single_path_string_is_accepted(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_text("Title: One\n\nText.")
    assert [a.title for a in articles(list(iter_articles(str(path))))] == ["One"]  # type: ignore[arg-type]


ARCHIVE = Path(__file__).resolve().parents[3] / "shared/data/realtimeqa-2023/articles.jsonl.gz"


@pytest.mark.skipif(not ARCHIVE.exists(), reason="shared benchmark archive not present")
def test_benchmark_archive_reads_every_article() -> None:
    count = 0
    for result in iter_articles([ARCHIVE]):
        assert isinstance(result, Article), str(result)
        count += 1
    assert count == 7587


# --- hostile input -----------------------------------------------------------------------------

GOOD_BODY = "The harbour reopened on Tuesday after the storm. Ferries run again."


def good_line(n: int) -> bytes:
    fields = {"url": f"https://good.example.com/{n}", "title": f"Good story {n}",
              "text": f"{GOOD_BODY} Story {n}.", "published_at": f"2023-04-0{n % 9 + 1}"}
    return (json.dumps(fields) + "\n").encode()


def gzip_repeat(block: bytes, times: int) -> bytes:
    """A multi-member gzip stream expanding to ``block * times`` (tiny on disk)."""
    return gzip.compress(block) * times


@contextmanager
def bounded(max_mib: float, max_seconds: float) -> Iterator[None]:
    """Fail unless the block allocates under ``max_mib`` MiB at its peak and ends in time.

    The time is a ceiling against unbounded work (the newline bomb once ran for 15 minutes),
    not a speed figure: it is several times what an idle machine needs, so a loaded one passes.
    """
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
        elapsed = time.perf_counter() - t0
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < max_mib * 2**20, f"peak {peak / 2**20:.0f} MiB"
    assert elapsed < max_seconds, f"{elapsed:.1f} s"


@pytest.mark.parametrize("suffix", [".txt", ".md", ".html", ".json", ".jsonl", ".jsonl.gz", ".xml"])
def test_random_bytes_are_a_binary_file_in_every_format(tmp_path: Path, suffix: str) -> None:
    data = random.Random(8).randbytes(20_000)
    path = tmp_path / f"binary{suffix}"
    path.write_bytes(gzip.compress(data) if suffix == ".jsonl.gz" else data)
    [problem] = load(path)
    assert isinstance(problem, LoadProblem) and problem.path == str(path)
    assert problem.reason.startswith("binary file (")


def test_high_bytes_only_and_control_heavy_text_are_binary(tmp_path: Path) -> None:
    rng = random.Random(9)
    high = tmp_path / "high.txt"
    high.write_bytes(bytes(rng.randrange(0x80, 0x100) for _ in range(20_000)))
    controls = tmp_path / "controls.txt"
    controls.write_bytes(b"Title: x\n\n" + b"text \x01\x02\x03\x04 more " * 500)
    first, second = load(high, controls)
    assert isinstance(first, LoadProblem) and first.reason.startswith("binary file (")
    assert second == LoadProblem(str(controls), "binary file (27% control characters)")


def test_legacy_and_utf16_text_is_not_binary(tmp_path: Path) -> None:
    russian = tmp_path / "ru.txt"
    body = "Городской совет утвердил новый бюджет в понедельник после долгих споров."
    russian.write_bytes(f"Заголовок\n\n{body}".encode("cp1251"))
    utf16 = tmp_path / "wide.txt"
    utf16.write_bytes("Title: Wide\n\nWritten by Notepad.".encode("utf-16"))
    first, second = articles(load(russian, utf16))
    assert first.text == body
    assert (second.title, second.text) == ("Wide", "Written by Notepad.")


def test_gzip_bomb_is_stopped_by_the_file_limit_with_bounded_memory(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.jsonl.gz"
    zeros = gzip_repeat(b"\0" * 2**20, 1100)  # 1.15 GB of zeros, 1.2 MB on disk
    bomb.write_bytes(gzip.compress(good_line(1)) + zeros)
    with bounded(max_mib=40, max_seconds=90):
        results = load(bomb)  # default limits: 1 GiB per file, 8 MiB per line
    first, line_problem, file_problem = results
    assert isinstance(first, Article) and first.title == "Good story 1"
    assert line_problem == LoadProblem(str(bomb), "line is over the 8,388,608-byte limit", 2)
    assert file_problem == LoadProblem(str(bomb), (
        "stopped at line 2: the file holds more than 1,073,741,824 bytes (after decompression), "
        "the limit per file"))


def test_gzip_of_newlines_finishes_fast(tmp_path: Path) -> None:
    path = tmp_path / "newlines.jsonl.gz"
    newlines = 600 * 2**20
    path.write_bytes(gzip.compress(good_line(1)) + gzip_repeat(b"\n" * 2**20, 600)
                     + gzip.compress(good_line(2)))
    with bounded(max_mib=40, max_seconds=90):
        first, second = articles(load(path))
    assert (first.origin, second.origin) == (f"{path}:1", f"{path}:{newlines + 2}")
    bomb = tmp_path / "more_newlines.jsonl.gz"
    bomb.write_bytes(gzip_repeat(b"\n" * 2**20, 40))
    [problem] = load(bomb, max_file_bytes=32 * 2**20)
    assert isinstance(problem, LoadProblem)
    assert problem.reason.startswith(f"stopped at line {32 * 2**20 + 1}: the file holds more than")


def test_50_mb_one_line_record_is_reported_with_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "huge.jsonl"
    with path.open("wb") as fh:
        fh.write(good_line(1))
        fh.write(b'{"title": "Huge", "text": "' + b"word " * (10 * 2**20) + b'"}\n')
        fh.write(good_line(3))
    with bounded(max_mib=40, max_seconds=90):
        first, problem, third = load(path)
    assert problem == LoadProblem(str(path), "line is over the 8,388,608-byte limit", 2)
    assert isinstance(first, Article) and isinstance(third, Article)
    assert third.origin == f"{path}:3"


def test_whole_file_formats_are_read_only_up_to_the_limit(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text(json.dumps([record(n) for n in range(400)]))
    [problem] = load(path, max_file_bytes=10_000)
    assert problem == LoadProblem(str(path), "file is over the 10,000-byte limit for this format "
                                  "(split it, or use .jsonl/.jsonl.gz, which are streamed)")


@pytest.mark.parametrize("block", [1, 2, 3, 7, 64])
def test_line_reader_across_block_boundaries(
    tmp_path: Path, block: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(reading, "_BLOCK_BYTES", block)
    lines = [json.dumps(record(1)), "", "  ", json.dumps(record(2)) + "\r", "\t",
             "x" * 40, json.dumps(record(3)), "", ""]
    path = tmp_path / "a.jsonl"
    path.write_text("\n".join(lines) + json.dumps(record(9)))  # no final newline
    long = load(path, max_line_bytes=200)
    assert [(type(r).__name__, r.origin if isinstance(r, Article) else r.line) for r in long] == [
        ("Article", f"{path}:1"), ("Article", f"{path}:4"), ("LoadProblem", 6),
        ("Article", f"{path}:7"), ("Article", f"{path}:9")]
    *short, none = problems(load(path, max_line_bytes=39))
    assert [p.line for p in short] == [1, 4, 6, 7, 9]
    assert all(p.reason == "line is over the 39-byte limit" for p in short)
    assert none == LoadProblem(str(path), "no articles in file")


def test_html_nested_100000_levels_is_reported(tmp_path: Path) -> None:
    path = tmp_path / "deep.html"
    path.write_text("<html><head><title>Deep</title></head><body>" + "<div>" * 100_000
                    + "Buried text." + "</div>" * 100_000 + "</body></html>")
    shallow = tmp_path / "shallow.html"
    shallow.write_text("<html><body>" + "<div>" * 200 + "<p>Readable text at depth 200.</p>"
                       + "</div>" * 200 + "</body></html>")
    problem, art = load(path, shallow)
    assert problem == LoadProblem(
        str(path), "HTML nested more than 255 levels deep: its text cannot be read")
    assert isinstance(art, Article) and art.text == "Readable text at depth 200."


BAD_DATES = ["9999-12-31", "not a date"]


def test_unreadable_dates_keep_the_article_with_a_warning_in_every_format(tmp_path: Path) -> None:
    jsonl = write_jsonl(tmp_path / "a.jsonl", [
        json.dumps(record(n, published_at=d)) for n, d in enumerate(BAD_DATES, 1)])
    listed = tmp_path / "b.json"
    listed.write_text(json.dumps([record(3, published_at="not a date")]))
    txt = tmp_path / "c.txt"
    txt.write_text("Title: Dated\nDate: 9999-12-31\n\nSome text.")
    results = load(jsonl, listed, txt)
    assert [(type(r).__name__, r.published_at if isinstance(r, Article) else r.reason)
            for r in results] == [
        ("LoadWarning", "unreadable date '9999-12-31': the article is kept without a date"),
        ("Article", None),
        ("LoadWarning", "unreadable date 'not a date': the article is kept without a date"),
        ("Article", None),
        ("LoadWarning",
         "item 1: unreadable date 'not a date': the article is kept without a date"),
        ("Article", None),
        ("LoadWarning", "unreadable date '9999-12-31': the article is kept without a date"),
        ("Article", None),
    ]
    assert [r.line for r in results if isinstance(r, LoadWarning)] == [1, 2, None, None]


def test_json_body_and_files_build_articles_by_the_same_rules(tmp_path: Path) -> None:
    items = [
        {"title": "Dated far ahead", "text": "  Some   text.  ", "published_at": "9999-12-31",
         "url": "https://www.example.com/far"},
        {"title": "Undatable", "text": "Other text.", "published_at": "not a date"},
        {"title": " ", "text": "A title made from the text itself."},
        {"title": "No text", "text": " \n "},
    ]
    path = tmp_path / "same.json"
    path.write_text(json.dumps(items))
    from_file = load(path)
    from_body = json_records(items, 1_000_000)

    def shape(results: list[Article | LoadProblem]) -> list[tuple[object, ...]]:
        return [(type(r).__name__, r.title, r.text, r.published_at, r.source)
                if isinstance(r, Article)
                else (type(r).__name__, re.sub(r"^item \d+: ", "", r.reason))
                for r in results]

    assert shape(from_file) == shape(from_body) == [
        ("LoadWarning", "unreadable date '9999-12-31': the article is kept without a date"),
        ("Article", "Dated far ahead", "Some text.", None, "example.com"),
        ("LoadWarning", "unreadable date 'not a date': the article is kept without a date"),
        ("Article", "Undatable", "Other text.", None, None),
        ("Article", "A title made from the text itself.", "A title made from the text itself.",
         None, None),
        ("LoadProblem", "article 'No text' has no text"),
    ]
    assert [r.path for r in from_body if isinstance(r, LoadProblem)] == ["item[0]", "item[1]",
                                                                          "item[3]"]


@pytest.fixture
def hash_service(tmp_path: Path) -> Iterator[NewsQA]:
    svc = open_service(tmp_path / "index", embedding__embedder="hash")
    yield svc
    svc.close()


def test_hostile_folder_through_the_service(tmp_path: Path, hash_service: NewsQA) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "binary.txt").write_bytes(random.Random(8).randbytes(20_000))
    (folder / "bomb.jsonl.gz").write_bytes(
        gzip.compress(good_line(1)) + gzip_repeat(b"\0" * 2**20, 1100))
    (folder / "deep.html").write_text("<html><body>" + "<div>" * 100_000 + "x" + "</div>" * 100_000)
    with (folder / "huge.jsonl").open("wb") as fh:
        fh.write(good_line(2) + b'{"title": "Huge", "text": "' + b"word " * (10 * 2**20) + b'"}\n')
    (folder / "dates.jsonl").write_bytes(b"".join(
        json.dumps({"url": f"https://dates.example.com/{n}", "title": f"Dated {n}",
                    "text": f"{GOOD_BODY} Dated {n}.", "published_at": d}).encode() + b"\n"
        for n, d in enumerate(BAD_DATES, 3)))
    (folder / "good.txt").write_text(f"Title: Good story 5\nDate: 2023-04-05\n\n{GOOD_BODY}")
    with bounded(max_mib=100, max_seconds=180):
        report = hash_service.ingest([folder])
    d = report.to_dict()
    reasons = {(p["path"].removeprefix(f"{folder}/"), p["line"]): (p["kind"], p["reason"])
               for p in d["problems"]}
    assert reasons == {
        ("binary.txt", None): ("skipped", "binary file (contains NUL bytes)"),
        ("bomb.jsonl.gz", 2): ("skipped", "line is over the 8,388,608-byte limit"),
        ("bomb.jsonl.gz", None): ("skipped", "stopped at line 2: the file holds more than "
                                  "1,073,741,824 bytes (after decompression), the limit per file"),
        ("dates.jsonl", 1): ("warning", "unreadable date '9999-12-31': the article is kept "
                             "without a date"),
        ("dates.jsonl", 2): ("warning", "unreadable date 'not a date': the article is kept "
                             "without a date"),
        ("deep.html", None): ("skipped", "HTML nested more than 255 levels deep: its text "
                              "cannot be read"),
        ("huge.jsonl", 2): ("skipped", "line is over the 8,388,608-byte limit"),
    }
    assert (d["added"], d["skipped"], d["warnings"], d["omitted"]) == (5, 5, 2, [])
    page = hash_service.list_articles(limit=50)
    stored = {a["title"]: a["published_at"] for a in page["items"]}
    assert stored == {"Good story 1": "2023-04-02", "Good story 2": "2023-04-03",
                      "Dated 3": None, "Dated 4": None, "Good story 5": "2023-04-05"}


def test_200000_tiny_bad_lines_make_a_readable_report_printed_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    path = tmp_path / "many.jsonl"
    path.write_bytes(b"[]\n" * 200_000 + good_line(1))
    monkeypatch.setenv("NEWSQA_EMBEDDING__EMBEDDER", "hash")
    t0 = time.perf_counter()
    with caplog.at_level(logging.INFO, logger="newsqa"):
        code = main(["--index", str(tmp_path / "idx"), "ingest", str(path), "--no-progress"])
    assert time.perf_counter() - t0 < 30
    out, err = capsys.readouterr()
    assert code == 3
    assert err.splitlines() == [
        *(f"skipped {path}:{n}: not a JSON object" for n in range(1, 21)),
        f"… and 199,980 more problems in {path}",
    ]
    assert out.startswith("1 added, 0 updated, 0 unchanged, 200000 skipped; 1 chunks in ")
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]


def test_upload_named_with_dot_dots_stays_inside_its_folder(
    tmp_path: Path, hash_service: NewsQA
) -> None:
    client = TestClient(create_app(hash_service))
    body = good_line(1) + b"{broken\n" + json.dumps(record(3, published_at="not a date")).encode()
    r = client.post("/api/articles", files={"file": ("../../etc/passwd.jsonl", body)})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert [(i["status"], i["origin"]) for i in rep["items"]] == [
        ("added", "passwd.jsonl:1"), ("added", "passwd.jsonl:3")]
    assert rep["problems"] == [
        {"path": "passwd.jsonl", "line": 2, "kind": "skipped",
         "reason": "invalid JSON: Expecting property name enclosed in double quotes (column 2)"},
        {"path": "passwd.jsonl", "line": 3, "kind": "warning",
         "reason": "unreadable date 'not a date': the article is kept without a date"},
    ]
    assert (rep["added"], rep["skipped"], rep["warnings"]) == (2, 1, 1)
    assert not (tmp_path / "etc").exists() and not (tmp_path.parent / "etc").exists()


def test_uploaded_gzip_bomb_is_reported_and_the_server_stays_up(hash_service: NewsQA) -> None:
    client = TestClient(create_app(hash_service))
    bomb = gzip.compress(good_line(1)) + gzip_repeat(b"\0" * 2**20, 1100)
    with bounded(max_mib=60, max_seconds=120):
        r = client.post("/api/articles", files={"file": ("bomb.jsonl.gz", bomb)})
    assert r.status_code == 200, r.text
    rep = r.json()
    assert [(p["path"], p["line"], p["reason"][:22]) for p in rep["problems"]] == [
        ("bomb.jsonl.gz", 2, "line is over the 8,388"),
        ("bomb.jsonl.gz", None, "stopped at line 2: the"),
    ]
    assert (rep["added"], rep["skipped"]) == (1, 2)
    assert client.get("/api/health").json()["articles"] == 1


def test_limits_are_settings_passed_down_to_the_loaders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NEWSQA_INGEST__MAX_FILE_BYTES", "50000")
    svc = open_service(tmp_path / "index", embedding__embedder="hash", ingest__max_line_bytes=1000)
    try:
        lines = tmp_path / "lines.jsonl"
        lines.write_bytes(good_line(1) + json.dumps(record(2, text="word " * 400)).encode())
        big = tmp_path / "big.jsonl.gz"
        big.write_bytes(gzip_repeat(good_line(3), 500))  # 60 KB once decompressed
        d = svc.ingest([lines, big]).to_dict()
    finally:
        svc.close()
    stop = 50_000 // len(good_line(3)) + 1  # the line whose bytes pass the limit
    assert [(p["line"], p["reason"]) for p in d["problems"]] == [
        (2, "line is over the 1,000-byte limit"),
        (None, f"stopped at line {stop}: the file holds more than 50,000 bytes (after "
               "decompression), the limit per file"),
    ]
    assert d["added"] == 2  # line 1 of lines.jsonl; big.jsonl.gz repeats one article


# --- what a folder walk passes over ------------------------------------------------------------


def test_not_news_is_a_project_document_by_name_or_an_undated_document_shape() -> None:
    from newsqa.ingest.load.text import not_news

    for name in ("README.md", "readme.txt", "LICENSE.md", "CHANGELOG.md", "CONTRIBUTING.md"):
        assert not_news(name, "Title\n\nSome text."), name
    doc = "# Tool\n\n## Install\n\nRun it.\n"
    assert not_news("guide.md", doc)
    assert not_news("guide.md", "# Tool\n\nRun:\n\n```\nmake\n```\n")
    assert not_news("guide.md", "date: 2024-03-01\n\n" + doc) is None  # dated: news
    assert not_news("storm.md", "# Storm hits coast\n\nA storm hit the coast.") is None
    assert not_news("storm.txt", "title: Storm\n\nA storm hit.\n\n## Aftermath\n\nCalm.") is None


def test_a_walk_counts_what_it_passes_over_and_include_all_reads_text_files(
    tmp_path: Path,
) -> None:
    (tmp_path / "storm.txt").write_text("title: Storm\ndate: 2024-01-02\n\nA storm hit.")
    (tmp_path / "README.md").write_text("# Archive\n\nNews files go here.")
    (tmp_path / "LICENSE").write_text("MIT")
    (tmp_path / "scan.PDF").write_bytes(b"%PDF")
    results = load(tmp_path)
    kinds = {Path(r.path).name: r.kind for r in results if isinstance(r, NotRead)}
    assert kinds == {"README.md": "not news", "LICENSE": "no extension", "scan.PDF": ".pdf"}
    assert [a.title for a in results if isinstance(a, Article)] == ["Storm"]
    everything = list(iter_articles([tmp_path], include_all=True))
    assert sorted(a.title for a in everything if isinstance(a, Article)) == ["Archive", "Storm"]
    # A file named explicitly is read whatever its name.
    assert [type(r) for r in load(tmp_path / "README.md")] == [Article]

