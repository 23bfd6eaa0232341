"""The watch store's contract, the same over SQLite and PostgreSQL: owners see only their own
watches, a change is recorded once however many processes check it, a webhook delivery is
taken by one deliverer, and the tables survive reopening."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from newsqa.records import Citation, Filters, Segment
from newsqa.watch.records import Notice, Shown
from newsqa.watch.store import WatchStore


@pytest.fixture(params=["sqlite", "postgres"])
def stores(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[WatchStore, ...]]:
    """Two stores of one index (two processes, or two nodes on one PostgreSQL schema)."""
    url = None
    if request.param == "postgres":
        url = request.getfixturevalue("catalog_url")
        import psycopg

        from newsqa.index.catalogue.postgres.connect import CatalogURL

        parsed = CatalogURL.parse(url)
        with psycopg.connect(parsed.conninfo, autocommit=True) as conn:
            conn.execute(f"CREATE SCHEMA {parsed.schema}")
    pair = (WatchStore.open(tmp_path, url), WatchStore.open(tmp_path, url))
    yield pair
    for s in pair:
        s.close()


def _notice(watch_id: str) -> Notice:
    cite = Citation(1, "art", 7, "https://x.example/a", "A title", "x.example", "2024-03-01",
                    "the quote")
    return Notice("n-" + watch_id[:8], watch_id, 0, 1000.0, "new", "Said. [1]",
                  [Segment("Said.", [1])], [cite])


def _shown() -> Shown:
    return Shown(False, {"art": "h"}, ["Said."], {"answer": "Said. [1]"}, 1000.0)


def test_owners_and_round_trip(stores: tuple[WatchStore, ...]) -> None:
    a, b = stores
    w = a.add("client:one", "Who leads?", Filters(since="2024-01-01", sources=["x.example"]),
              "https://hook.example/n", 5, "model", np.ones(3, np.float32), None)
    a.add("local", "Other?", Filters(), None, 5, "model", np.zeros(3, np.float32), _shown())
    assert [x.question for x in b.all("client:one")] == ["Who leads?"]
    assert b.get(w.id, "local") is None and b.get(w.id, "client:one") is not None
    got = b.get(w.id)
    assert got is not None and got.filters == Filters(since="2024-01-01", sources=["x.example"])
    assert got.webhook == "https://hook.example/n" and got.checked == 5 and got.shown is None
    marks = b.marks()
    assert len(marks.ids) == 2 and marks.vectors.shape == (2, 3) and set(marks.checked) == {5}
    assert Filters(since="2024-01-01", sources=["x.example"]) in marks.filters
    assert sorted(marks.questions) == ["Other?", "Who leads?"]
    assert (b.count(), b.count("local"), b.count("client:two")) == (2, 1, 0)
    assert list(b.cited().values()) == [{"art": "h"}]
    assert not b.remove(w.id, "local") and b.remove(w.id, "client:one")
    assert b.count() == 1


def test_a_change_is_recorded_once(stores: tuple[WatchStore, ...]) -> None:
    a, b = stores
    w = a.add("local", "Who leads?", Filters(), "https://hook.example/n", 5, "m",
              np.ones(3, np.float32), None)
    first = a.settle(w.id, w.rev, 9, _shown(), _notice(w.id))
    assert first is not None and first.seq == 1 and first.webhook == "pending"
    # the other process checked from the same revision: its outcome is not written
    second = _notice(w.id)
    second.id = "n-other"
    assert b.settle(w.id, w.rev, 9, _shown(), second) is None
    now = b.get(w.id)
    assert now is not None and now.checked == 9 and now.notices == 1 and now.unread == 1
    assert [n.id for n in b.notices(w.id)] == [first.id]
    assert b.notices(owner="someone") == [] and len(b.notices(owner="local")) == 1
    assert b.notices(w.id, after=1000.0) == []
    b.advance([(w.id, w.rev)], 20)  # a stale revision: nothing moves
    assert b.get(w.id).checked == 9  # type: ignore[union-attr]
    b.advance([(w.id, w.rev + 1)], 20)
    assert b.get(w.id).checked == 20  # type: ignore[union-attr]
    assert b.mark_read(w.id, "local") == 1 and b.get(w.id).unread == 0  # type: ignore[union-attr]


def test_one_deliverer_takes_a_delivery(stores: tuple[WatchStore, ...]) -> None:
    a, b = stores
    w = a.add("local", "Q?", Filters(), "https://hook.example/n", 0, "m", np.ones(3), None)
    stored = a.settle(w.id, w.rev, 1, _shown(), _notice(w.id))
    assert stored is not None
    due = b.due_deliveries(now=2000.0)
    assert [(n.id, url, tries) for n, url, tries in due] == [
        (stored.id, "https://hook.example/n", 0)]
    assert a.take_delivery(stored.id, 0, lease=60) and not b.take_delivery(stored.id, 0, 60)
    a.delivered(stored.id, ok=False, error="HTTP 500", retry_at=2500.0)
    assert b.due_deliveries(now=2000.0) == [] and len(b.due_deliveries(now=2600.0)) == 1
    a.delivered(stored.id, ok=True)
    assert b.due_deliveries(now=1e12) == [] and b.notices(w.id)[0].webhook == "delivered"


def test_reopening_keeps_everything(stores: tuple[WatchStore, ...]) -> None:
    a, b = stores
    w = a.add("local", "Q?", Filters(), None, 0, "m", np.ones(3), _shown())
    a.settle(w.id, w.rev, 3, _shown(), _notice(w.id))
    a.close()
    reopened = WatchStore(a._db.__class__(*a._db.reopen_args()))
    got = reopened.get(w.id)
    assert got is not None and got.notices == 1 and got.shown == _shown() and got.checked == 3
    reopened.close()
    assert b.get(w.id) is not None
    a._db = reopened._db.__class__(*a._db.reopen_args())  # for the fixture's close
