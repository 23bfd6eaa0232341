"""Retrieval: filters before ranking that fail closed, as_of, and wire copies counted once."""

from __future__ import annotations

import pytest

from newsqa.query.fuse import rrf
from newsqa.records import Filters
from newsqa.service import NewsQA
from tests.support import NEWS, article, open_service

WIRE = (
    "WASHINGTON (AP) — The Senate passed a sweeping bill on Thursday to fund the government "
    "through September, averting a shutdown hours before a midnight deadline. The measure now "
    "goes to the House, where leaders expect a vote on Friday."
)


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> NewsQA:
    s = open_service(tmp_path_factory.mktemp("retrieve") / "idx")
    copies = [
        article(
            "Senate passes funding bill, averting shutdown",
            WIRE,
            url=f"https://{outlet}/senate-bill",
            source=outlet,
            published_at="2023-03-16",
        )
        for outlet in ("outlet-a.com", "outlet-b.com", "outlet-c.com")
    ]
    s.ingest_records([*NEWS, *copies])
    return s


def test_rrf_rewards_agreement() -> None:
    fused = rrf([[1, 2, 3], [3, 1, 4]], k=60)
    assert max(fused, key=lambda i: fused[i]) == 1
    assert fused[3] > fused[2] and fused[4] == pytest.approx(1 / 63)


def test_unknown_source_returns_nothing(svc: NewsQA) -> None:
    assert svc.search("interest rates", filters=Filters(sources=["nowhere.example"])) == []
    assert svc.search("interest rates", filters=Filters(sources=[])) == []


def test_source_and_date_filters_apply_before_ranking(svc: NewsQA) -> None:
    got = svc.search("volcano", k=5, filters=Filters(sources=["money.example.com"]))
    assert got and all(p.source == "money.example.com" for p in got)
    got = svc.search("Damar Hamlin", k=5, filters=Filters(since="2023-02-01", until="2023-02-28"))
    assert got and all("2023-02-01" <= (p.published_at or "") <= "2023-02-28" for p in got)


def test_empty_date_window_fails_closed(svc: NewsQA) -> None:
    assert svc.search("Damar Hamlin", filters=Filters(since="2030-01-01")) == []
    assert svc.search("Damar Hamlin", filters=Filters(since="2023-02-02", until="2023-02-03")) == []


def test_as_of_excludes_later_articles(svc: NewsQA) -> None:
    got = svc.search("volcano evacuations", k=10, filters=Filters(as_of="2023-02-15"))
    assert got and all((p.published_at or "") <= "2023-02-15" for p in got)
    assert all("volcano" not in p.title.lower() for p in got)
    later = svc.search("volcano evacuations", k=3, filters=Filters(as_of="2023-03-31"))
    assert "volcano" in later[0].title.lower()


def test_wire_copies_are_returned_once(svc: NewsQA) -> None:
    got = svc.search("Senate funding bill shutdown", k=5)
    senate = [p for p in got if "Senate" in p.title]
    assert len(senate) == 1
    others = {"outlet-a.com", "outlet-b.com", "outlet-c.com"} - {senate[0].source}
    assert sorted(senate[0].also_reported_by) == sorted(others)
    assert svc.stats()["stories"] == svc.stats()["articles"] - 2


def test_lead_prior_lifts_only_first_passages() -> None:
    from newsqa.query.retrieve import _lead_prior

    rows = {1: {"ord": 0}, 2: {"ord": 3}}
    fused = {1: 0.01, 2: 0.02}
    _lead_prior([1, 2], rows, fused, 0.5)
    assert fused == {1: pytest.approx(0.015), 2: 0.02}
    _lead_prior([1, 2], rows, fused, 0.0)
    assert fused[1] == pytest.approx(0.015)

