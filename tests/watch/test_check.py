"""Which watches a change concerns and what a new answer's notice says: exact, on hand-made
vectors and answers."""

from __future__ import annotations

import numpy as np

from newsqa.records import Answer, Citation, Filters, Segment
from newsqa.watch.check import Concern, NewChunks, compare, gone, matches, shown_of, woken


def _chunks() -> NewChunks:
    meta = {
        11: {"article_id": "a", "published_at": "2024-03-01", "source": "one.example"},
        12: {"article_id": "b", "published_at": "2024-03-05", "source": "two.example"},
        13: {"article_id": "b", "published_at": "2024-03-05", "source": "two.example"},
    }
    vecs = np.array([[1, 0, 0], [0, 1, 0], [0.6, 0.8, 0]], np.float32)
    return NewChunks.of(meta, vecs)


def test_matches_cosine_watermark_and_filters() -> None:
    q = np.array([[1, 0, 0], [0, 1, 0], [0, 1, 0], [0, 0, 1]], np.float32)
    new = _chunks()
    rows = matches(q, [0, 0, 12, 0], [Filters(), Filters(sources=["one.example"]), Filters(),
                                       Filters()], new, 0.5)
    got = woken(rows, new)
    assert got[0] == {"a", "b"}  # chunk 13 (cos 0.6) brings b
    assert got[1] == set()  # b matches but is not from one.example
    assert got[2] == {"b"}  # only chunk 13 is past its watermark 12
    assert got[3] == set()  # nothing near
    since = matches(q[:1], [0], [Filters(since="2024-03-02")], new, 0.5)
    assert woken(since, new) == [{"b"}]


def test_the_rare_word_gate() -> None:
    q = np.array([[1, 0, 0], [0.6, 0.8, 0]], np.float32)
    new = _chunks()
    rows = matches(q, [0, 0], [Filters(), Filters()], new, 0.5)
    words = {0: frozenset({"acme", "bridge"}), 1: frozenset({"bakery"}),
             2: frozenset({"beta", "bridge"})}
    rare = [frozenset({"beta"}), frozenset()]
    # the first watch needs "beta": only chunk 13 (article b) has it; the second is ungated
    assert woken(rows, new, rare, words) == [{"b"}, {"a", "b"}]


def test_gone_tells_deleted_from_updated() -> None:
    cited = {"w1": {"a": "h1", "b": "h2"}, "w2": {"c": "h3"}}
    stored = {"a": ("a", "h1"), "b": ("b", "other"), "c": ("c", "h3")}
    assert gone(cited, stored) == {"w1": {"b": "updated"}}
    assert gone(cited, {"a": ("a", "h1")}) == {"w1": {"b": "deleted"}, "w2": {"c": "deleted"}}


def _cite(n: int, article: str) -> Citation:
    return Citation(n, article, n, f"https://x.example/{article}", f"Title {article}",
                    "x.example", "2024-03-01", f"quote {article}")


def _answer(segments: list[Segment], cites: list[Citation], abstained: bool = False) -> Answer:
    return Answer(question="q", answer="", segments=segments, abstained=abstained,
                  evidence=0.9, citations=cites, passages=[], filters=Filters(),
                  timings_ms={})


def test_first_answer_new_evidence_and_nothing_new() -> None:
    first = _answer([Segment("Acme leads.", [1]), Segment("It takes months.", [1]),
                     Segment("Third.", [1])], [_cite(1, "a")])
    kind, segs, cites = compare(None, first, Concern({"a"})) or ("", [], [])
    assert kind == "first" and [s.text for s in segs] == ["Acme leads.", "It takes months."]
    assert [c.article_id for c in cites] == ["a"]
    shown = shown_of(first, {"a": "h"})
    again = _answer([Segment("Acme leads.", [1])], [_cite(1, "a")])
    assert compare(shown, again, Concern({"a"})) is None  # the same article: nothing new
    later = _answer([Segment("Acme leads.", [1]), Segment("Beta leads, not Acme.", [2])],
                    [_cite(1, "a"), _cite(2, "b")])
    kind, segs, cites = compare(shown, later, Concern({"b"})) or ("", [], [])
    assert kind == "new" and [s.text for s in segs] == ["Beta leads, not Acme."]
    assert segs[0].citations == [1] and cites[0].n == 1 and cites[0].article_id == "b"
    # b is cited but was not among the new articles: an old article, not news
    assert compare(shown, later, Concern({"c"})) is None


def test_withdrawn_when_a_cited_article_goes() -> None:
    shown = shown_of(_answer([Segment("Acme leads.", [1])], [_cite(1, "a")]), {"a": "h"})
    silent = _answer([], [], abstained=True)
    kind, segs, cites = compare(shown, silent, Concern(gone={"a": "deleted"})) or ("", [], [])
    assert kind == "withdrawn" and cites == []
    assert segs[0].text == "“Title a” (x.example, 2024-03-01), which the answer cited, was deleted."
    assert compare(shown, silent, Concern()) is None  # abstaining alone is no news
    assert compare(None, silent, Concern({"a"})) is None
