"""Watches over a real index and the real model: asked again only when new passages could
answer them, a notice only when the answer changed for its reader, once across processes, and
nothing lost on restart."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsqa.records import AnswerRequest, Filters
from newsqa.service import NewsQA
from tests.support import article, open_service
from tests.watch.story import BASE, CORRECTION, QUESTION, REPORT, UNRELATED


def _service(path: Path) -> NewsQA:
    return open_service(path)


def test_a_story_in_three_steps_gives_two_notices(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    try:
        svc.ingest_records(BASE)
        w = svc.watches.add(QUESTION)
        assert w.shown is not None and w.shown.abstained  # nothing on it yet
        svc.ingest_records([UNRELATED])
        assert svc.watches.notices(w.id) == []
        svc.ingest_records([REPORT])
        (first,) = svc.watches.notices(w.id)
        assert first.kind == "first" and "Acme Works" in first.text and "[1]" in first.text
        assert [c.url for c in first.citations] == [REPORT.url]
        svc.ingest_records([CORRECTION])
        newest, older = svc.watches.notices(w.id)
        assert older.id == first.id and newest.kind == "new" and newest.seq == 2
        assert "Beta Builders" in newest.text
        assert [c.url for c in newest.citations] == [CORRECTION.url]
        assert len(newest.segments) <= svc.settings.watch.statements
        watched = svc.watches.get(w.id)
        assert watched is not None and watched.unread == 2 and watched.shown is not None
        assert set(watched.shown.sources) >= {c.article_id for c in newest.citations}
        # nothing new: asking again records nothing
        assert svc.watches.check() == []
    finally:
        svc.close()


def test_a_deleted_article_withdraws_and_filters_hold(tmp_path: Path) -> None:
    svc = _service(tmp_path)
    try:
        svc.ingest_records([*BASE, REPORT])
        w = svc.watches.add(QUESTION)
        other = svc.watches.add(QUESTION, Filters(sources=["sports.example"]), owner="client:x")
        assert w.shown is not None and not w.shown.abstained
        svc.ingest_records([CORRECTION])
        assert [n.kind for n in svc.watches.notices(w.id)] == ["new"]
        assert svc.watches.notices(other.id) == []  # the correction is not from its outlet
        assert svc.delete(CORRECTION.url or "")
        (gone, _) = svc.watches.notices(w.id)
        assert gone.kind == "withdrawn" and "was deleted" in gone.text
        assert svc.watches.all("client:x") == [svc.watches.get(other.id)]
        assert svc.watches.all("local")[0].id == w.id
    finally:
        svc.close()


def test_two_processes_notice_once_and_restart_loses_nothing(tmp_path: Path) -> None:
    one = _service(tmp_path)
    one.ingest_records(BASE)
    w = one.watches.add(QUESTION)
    two = _service(tmp_path)
    one.ingest_records([REPORT])
    assert two.watches.check() == []  # the ingesting process noticed it already
    assert [n.kind for n in two.watches.notices(w.id)] == ["first"]
    one.close()
    two.ingest_records([CORRECTION])  # the other process ingests; one is gone
    two.close()
    again = _service(tmp_path)
    try:
        assert [n.kind for n in again.watches.notices(w.id)] == ["new", "first"]
        assert again.watches.check() == []
    finally:
        again.close()


def test_two_query_nodes_on_postgres_notice_once(tmp_path: Path, catalog_url: str) -> None:
    nodes = [open_service(tmp_path / name, index__catalog_url=catalog_url)
             for name in ("one", "two")]
    try:
        nodes[0].ingest_records(BASE)
        w = nodes[1].watches.add(QUESTION)
        nodes[0].ingest_records([REPORT])  # node one ingests and checks at once
        assert nodes[1].watches.check() == []  # node two finds it done
        nodes[1].ingest_records([CORRECTION])
        assert nodes[0].watches.check() == []
        assert [n.kind for n in nodes[0].watches.notices(w.id)] == ["new", "first"]
        assert [n.kind for n in nodes[1].watches.notices(w.id)] == ["new", "first"]
    finally:
        for node in nodes:
            node.close()


HISTORY = article("The history of Springfield's bridges", "The Main Street bridge in Springfield "
                  "was built in 1952 by a local firm and last saw repair work in 1990, the city's "
                  "historians said.",
                  published_at="2024-03-03", source="history.example",
                  url="https://history.example/bridges")


def test_a_new_article_that_does_not_reach_the_answer_is_searched_not_asked(
    tmp_path: Path,
) -> None:
    svc = open_service(tmp_path, composition__passages_considered=1,
                       reader__passages=1)
    try:
        svc.ingest_records([*BASE, REPORT])
        w = svc.watches.add(QUESTION)
        svc.ingest_records([HISTORY])  # about the bridge, below the report the answer weighs
        assert svc.watches.last_check["searched"] == 1 and svc.watches.last_check["asked"] == 0
        assert svc.watches.notices(w.id) == []
        svc.ingest_records([CORRECTION])
        assert svc.watches.last_check["searched"] == 1 and svc.watches.last_check["asked"] == 1
        assert [n.kind for n in svc.watches.notices(w.id)] == ["new"]
    finally:
        svc.close()


@pytest.mark.parametrize("reader", ["off", "on"])
def test_an_answer_cites_only_articles_among_the_passages_it_weighs(
    tmp_path: Path, reader: str,
) -> None:
    svc = open_service(tmp_path, reader__mode=reader)
    try:
        svc.ingest_records([*BASE, REPORT, HISTORY, CORRECTION, UNRELATED])
        pipe = svc.pipeline()
        for question in (QUESTION, "Who won the football cup?", "What did the council approve?"):
            answer = svc.answer(AnswerRequest(question))
            _, _, passages = pipe.searched(question, pipe.retrieval.k, None)
            assert answer.citations
            assert {c.article_id for c in answer.citations} <= {
                p.article_id for p in pipe.weighed(passages)}
    finally:
        svc.close()
