"""One contract for every search backend and catalogue: the same tests run on ``local`` (FTS5
or its postings in PostgreSQL + FAISS) and ``milvus`` (a Milvus collection served by
milvus-lite from a local file), each over a ``sqlite`` and a ``postgres`` catalogue (a server
the session starts, a schema per test)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from newsqa.index.store import IndexMismatchError
from newsqa.records import AnswerRequest, Filters
from newsqa.service import NewsQA
from tests.support import NEWS, REPO, SEED_QUESTION, article, open_service

BACKENDS = ["local", "milvus"]
ODD_OUTLET = 'o"dd\\outlet.example'


def _needs(backend: str) -> None:
    if backend == "milvus":
        pytest.importorskip("pymilvus", reason="pip install 'newsqa[milvus]'")
        pytest.importorskip("milvus_lite", reason="pip install 'newsqa[milvus]'")


CATALOGUES = ["sqlite", "postgres"]


@pytest.fixture(params=[(c, b) for c in CATALOGUES for b in BACKENDS],
                ids=lambda p: "+".join(p))
def svc(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[NewsQA]:
    """A service on a fresh index of the given catalogue and backend (hash embedder: exact
    and fast)."""
    catalogue, backend = request.param
    _needs(backend)
    url = request.getfixturevalue("catalog_url") if catalogue == "postgres" else None
    service = open_service(tmp_path / "index", embedding__embedder="hash",
                           index__backend=backend, index__catalog_url=url)
    yield service
    service.close()


def _ids(svc: NewsQA, query: str, **filters: object) -> list[str]:
    return [p.article_id for p in svc.search(query, 10, Filters(**filters))]  # type: ignore[arg-type]


def test_manifest_records_the_backend(svc: NewsQA) -> None:
    assert svc.index.manifest.backend in BACKENDS
    assert svc.index.search.name == svc.index.manifest.backend
    assert svc.stats()["manifest"]["backend"] == svc.index.manifest.backend


def test_ingest_is_idempotent_and_search_finds_every_article(svc: NewsQA) -> None:
    first = svc.ingest_records(list(NEWS))
    assert first.added == 3 and first.chunks >= 3
    again = svc.ingest_records(list(NEWS))
    assert again.added == 0 and again.unchanged == 3
    assert svc.stats()["chunks"] == first.chunks
    for a, query in zip(NEWS, ["Hamlin collapsed", "interest rate", "Tolva volcano"], strict=True):
        hits = svc.search(query, 3)
        assert hits and hits[0].title == a.title, query
    # lexical: a word only one article has
    assert _ids(svc, "kilometres")[:1] == [svc.search("Tolva volcano", 1)[0].article_id]


def test_update_replaces_the_old_text(svc: NewsQA) -> None:
    svc.ingest_records(list(NEWS))
    changed = replace(NEWS[2], text="A volcano on Tolva fell silent; the ash cloud over "
                      "Zembla cleared and 3,000 evacuees returned home.")
    report = svc.ingest_records([changed])
    assert report.updated == 1
    hits = svc.search("Zembla ash cloud", 3)
    assert hits and "Zembla" in hits[0].text
    assert not any("eight kilometres" in p.text for p in svc.search("kilometres sky", 10))


def test_delete_removes_the_article_from_both_retrievers(svc: NewsQA) -> None:
    svc.ingest_records(list(NEWS))
    target = svc.search("Tolva volcano", 1)[0]
    assert svc.delete(target.url or target.article_id)
    assert target.article_id not in _ids(svc, "Tolva volcano eruption evacuated")
    assert target.article_id not in _ids(svc, "kilometres")
    assert not svc.delete(target.article_id)
    assert svc.stats()["articles"] == 2


def test_filters_restrict_and_fail_closed(svc: NewsQA) -> None:
    svc.ingest_records([*NEWS, article(
        "Odd outlet reports rates", "Rates rose again at the central bank, an odd outlet said.",
        url="https://odd.example/rates", source=ODD_OUTLET, published_at="2023-02-02",
    ), article("Undated rates story", "The central bank kept rates on hold.", source="x.org")])
    rates = "central bank interest rates"
    dated = {p.published_at for p in svc.search(rates, 10, Filters(since="2023-02-01"))}
    assert dated and all(d is not None and d >= "2023-02-01" for d in dated)
    until = svc.search(rates, 10, Filters(until="2023-01-31"))
    assert all(p.published_at and p.published_at <= "2023-01-31" for p in until)
    as_of = svc.search(rates, 10, Filters(as_of="2023-02-01"))
    assert {p.published_at for p in as_of} <= {None, "2023-01-03", "2023-02-01"}
    assert None in {p.published_at for p in as_of}  # undated stays visible "as of"
    odd = svc.search(rates, 10, Filters(sources=[ODD_OUTLET]))
    assert [p.source for p in odd] == [ODD_OUTLET]
    assert svc.search(rates, 10, Filters(sources=['nowhere.example" or id >= 0'])) == []
    assert svc.search(rates, 10, Filters(since="2030-01-01")) == []




@pytest.mark.parametrize("backend", BACKENDS)
def test_seed_answer_with_the_real_model(tmp_path: Path, backend: str) -> None:
    _needs(backend)
    svc = open_service(tmp_path / "index", index__backend=backend)
    try:
        svc.ingest([REPO / "corpus"])
        res = svc.answer(AnswerRequest(SEED_QUESTION)).to_dict()
        assert not res["abstained"]
        assert "collective self-defense" in res["answer"]
        assert res["citations"][0]["title"] == "Korea-US Alliance vs. Japan-US Alliance"
    finally:
        svc.close()


def test_an_index_keeps_its_backend(tmp_path: Path) -> None:
    _needs("milvus")
    svc = open_service(tmp_path / "index", embedding__embedder="hash")
    svc.ingest_records(list(NEWS[:1]))
    svc.close()
    with pytest.raises(IndexMismatchError, match="NEWSQA_INDEX__BACKEND"):
        open_service(tmp_path / "index", embedding__embedder="hash", index__backend="milvus")


def test_milvus_write_cut_short_is_completed_by_the_next_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The catalogue commits first; a writer that dies before Milvus has the chunks leaves a
    change log that the next open replays, so nothing is lost or doubled."""
    _needs("milvus")
    from newsqa.index.milvus import MilvusSearch

    svc = open_service(tmp_path / "index", embedding__embedder="hash", index__backend="milvus")
    svc.ingest_records(list(NEWS[:1]))
    real = MilvusSearch.upsert

    def dies(self: MilvusSearch, rows: object) -> None:
        raise ConnectionError("milvus went away")

    monkeypatch.setattr(MilvusSearch, "upsert", dies)
    with pytest.raises(ConnectionError):
        svc.ingest_records(list(NEWS[1:]))
    assert svc.stats()["articles"] == 3  # the catalogue committed the batch
    assert isinstance(svc.index.search, MilvusSearch)
    assert svc.index.search.count() < svc.stats()["chunks"]  # Milvus did not get it
    svc.close()
    monkeypatch.setattr(MilvusSearch, "upsert", real)
    again = open_service(tmp_path / "index", embedding__embedder="hash")
    try:
        assert isinstance(again.index.search, MilvusSearch)
        assert again.index.search.count() == again.stats()["chunks"]
        report = again.ingest_records(list(NEWS))
        assert report.unchanged == 3 and report.added == 0
        assert again.index.search.count() == again.stats()["chunks"]
        assert again.search("Tolva volcano", 1)[0].title.startswith("Volcano")
    finally:
        again.close()


def test_milvus_missing_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import sys

    monkeypatch.setitem(sys.modules, "pymilvus", None)  # as if not installed
    with pytest.raises(RuntimeError, match=r"pip install 'newsqa\[milvus\]'"):
        open_service(tmp_path / "index", embedding__embedder="hash", index__backend="milvus")
