"""Abstention on a real slice: questions about things absent from the archive abstain, questions
the archive answers do not; with the composer (the reader off) and with the reader the package
ships, whose calibrated probability then decides."""

from __future__ import annotations

import json

import pytest

from newsqa.reader.runtime import shipped
from newsqa.records import AnswerRequest, Filters
from newsqa.service import NewsQA
from tests.support import (
    ARCHIVE,
    QUESTIONS,
    REPO,
    SEED_QUESTION,
    archive_articles,
    as_article,
    open_service,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not ARCHIVE.exists(), reason="shared archive not present"),
]

ABSENT = [
    "At what temperature does liquid nitrogen boil?",
    "What is the traditional recipe for Hungarian goulash?",
    "How many moons does Neptune have?",
    "Which band headlined the Glastonbury festival in 2019?",
    "What did the Mars rover Perseverance find in its latest rock sample?",
    # near-topic: the slice holds football World Cup articles, none about cricket or 1998
    "Which country won the 1998 Cricket World Cup?",
    # ... nor about a World Cup still to be played
    "Who won the 2030 World Cup?",
]
#: A question about what the World Cup articles of the slice do report.
NEAR_ANSWERABLE = "Which country won the 2022 World Cup?"
#: Near-topic: the slice has each event, not the detail asked (written before any reader ran).
NEAR_TOPIC = [
    "How much did the Vatican spend on Pope Benedict XVI's funeral?",
    "How much did Pelé's coffin cost?",
    "How many Japanese adults are allergic to sesame?",
    "How many rushing yards did Damar Hamlin gain in his college career?",
    "What was the attendance at Argentina's first match of the 2022 World Cup?",
    "Which airline flew Argentina's team home from Qatar?",
]


@pytest.fixture(scope="module", params=["off", "on"])
def slice_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> tuple[NewsQA, list[dict]]:
    if request.param == "on" and not shipped():
        pytest.skip("the package holds no reader")
    questions = [json.loads(line) for line in QUESTIONS.open()]
    picked = [q for q in questions if q["answerable"] and q["id"].startswith("202301")][:4]
    gold = {u for q in picked for u in q["gold_urls"]}
    svc = open_service(tmp_path_factory.mktemp("abstain") / "idx", reader__mode=request.param)
    svc.ingest([REPO / "corpus"])
    articles = list(archive_articles())
    world_cup = [d for d in articles if "World Cup" in d["title"]][:6]
    svc.ingest_records([as_article(d) for d in articles if d["url"] in gold] +
                       [as_article(d) for d in world_cup if d["url"] not in gold])
    return svc, picked


@pytest.mark.parametrize("question", ABSENT)
def test_absent_topics_abstain(slice_service: tuple[NewsQA, list[dict]], question: str) -> None:
    svc, _ = slice_service
    res = svc.answer(AnswerRequest(question)).to_dict()
    assert res["abstained"], (res["evidence"], res["answer"])


def test_answerable_questions_do_not_abstain(slice_service: tuple[NewsQA, list[dict]]) -> None:
    svc, picked = slice_service
    seed = svc.answer(AnswerRequest(SEED_QUESTION)).to_dict()
    assert not seed["abstained"]
    # from the seed article (the slice's other articles are 2022–2023 news)
    assert seed["citations"][0]["title"] == "Korea-US Alliance vs. Japan-US Alliance", seed
    res = svc.answer(AnswerRequest(NEAR_ANSWERABLE, filters=Filters(as_of="2023-01-05"))).to_dict()
    assert not res["abstained"], (res["evidence"], res["answer"])
    assert any("World Cup" in c["passage"] for c in res["citations"])
    for q in picked:
        res = svc.answer(AnswerRequest(q["question"], filters=Filters(as_of=q["date"]))).to_dict()
        assert not res["abstained"], (q["question"], res["evidence"])


def test_near_topic_questions_carry_less_evidence_than_answerable_ones(
    slice_service: tuple[NewsQA, list[dict]]
) -> None:
    """Most near-topic questions still get an answer (docs/reader.md), but on average their
    evidence (with the reader on, the calibrated probability that the answer answers) stays
    below that of the questions the slice answers."""
    svc, picked = slice_service
    near = [svc.answer(AnswerRequest(q)).to_dict()["evidence"] for q in NEAR_TOPIC]
    answerable = [svc.answer(AnswerRequest(SEED_QUESTION)).to_dict()["evidence"]] + [
        svc.answer(AnswerRequest(q["question"], filters=Filters(as_of=q["date"]))).evidence
        for q in picked]
    assert sum(near) / len(near) < sum(answerable) / len(answerable), (near, answerable)
