"""Tests for the article loaders, on real files written to tmp_path."""

from __future__ import annotations

import gzip
import json
import logging
from pathlib import Path

import pytest

from newsqa.ingest.load import SUPPORTED_SUFFIXES, iter_articles
from newsqa.models import Article, LoadProblem, LoadWarning

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
    assert "has no text" in first.reason and first.path.endswith("a_title_only.txt")
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
    assert art.text.startswith("The council approved the new budget on Monday")
    assert "largest increase in a decade" in art.text
    assert "tracking" not in art.text and "Home" not in art.text
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
    assert "weather today" in art.text


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
    assert arts and all(isinstance(a, Article) for a in arts)
    assert [a.id for a in arts if isinstance(a, Article)] == [f"a{n}" for n in range(len(arts))]
    assert isinstance(last, LoadProblem) and last.path == str(cut)
    assert "gzip" in last.reason

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
    (tmp_path / "notes.pdf").write_bytes(b"%PDF-1.4")  # unsupported: ignored in a folder
    (tmp_path / ".hidden.txt").write_text("Title: Hidden\n\nSecret.")
    hidden = tmp_path / ".git"
    hidden.mkdir()
    (hidden / "x.txt").write_text("Title: Hidden too\n\nSecret.")

    results = load(tmp_path)
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
