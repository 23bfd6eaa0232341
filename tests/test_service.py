"""The service on the bundled corpus: seed questions, abstention, JSON shape, follow-ups."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsqa.records import AnswerRequest
from newsqa.service import NewsQA
from tests.support import NEWS, REPO, SEED_QUESTION, article, open_service

CITATION_KEYS = {"n", "article_id", "chunk_id", "url", "title", "source", "published_at", "quote"}
PASSAGE_KEYS = {"chunk_id", "article_id", "url", "title", "source", "published_at", "text", "score"}


@pytest.fixture(scope="module")
def svc(tmp_path_factory: pytest.TempPathFactory) -> NewsQA:
    s = open_service(tmp_path_factory.mktemp("service") / "idx")
    report = s.ingest([REPO / "corpus"])
    assert report.added == 1 and report.skipped == 0
    s.ingest_records(NEWS)
    return s


@pytest.fixture(scope="module")
def hashed(tmp_path_factory: pytest.TempPathFactory) -> NewsQA:
    """The same articles behind the model-free embedder: for tests about logic, not relevance."""
    s = open_service(tmp_path_factory.mktemp("service-hash") / "idx", embedding__embedder="hash")
    s.ingest([REPO / "corpus"])
    s.ingest_records(NEWS)
    return s


def _seed_citation(res: dict) -> dict:
    assert not res["abstained"], res["answer"]
    cited = [c for c in res["citations"] if c["title"] == "Korea-US Alliance vs. Japan-US Alliance"]
    assert cited, res["citations"]
    return cited[0]


def test_seed_question_is_answered_from_the_seed_article(svc: NewsQA) -> None:
    res = svc.answer(AnswerRequest(SEED_QUESTION)).to_dict()
    c = _seed_citation(res)
    assert "collective self-defense" in c["quote"]
    assert c["published_at"] == "2013-11-30"
    assert "[1]" in res["answer"]


@pytest.mark.parametrize(
    ("question", "expect"),
    [
        ("How does the ROK-US alliance differ from the US-Japan alliance?", "ROK-US alliance"),
        ("What does China think about Japan's expanded military role?", "China"),
    ],
)
def test_other_seed_questions(svc: NewsQA, question: str, expect: str) -> None:
    assert expect in _seed_citation(svc.answer(AnswerRequest(question)).to_dict())["quote"]


def test_question_outside_the_archive_abstains_and_shows_closest(svc: NewsQA) -> None:
    res = svc.answer(AnswerRequest("Who won the 2022 FIFA World Cup?")).to_dict()
    assert res["abstained"] is True
    assert res["answer"] == "The archive has no article that answers this."
    assert res["citations"] == [] and res["passages"]


def test_answer_json_shape(hashed: NewsQA) -> None:
    res = hashed.answer(AnswerRequest("What happened to Damar Hamlin?", k=4)).to_dict()
    assert {"question", "answer", "segments", "abstained", "citations", "passages",
            "timings_ms"} <= set(res)
    assert res["answer"] == " ".join(
        seg["text"] + "".join(f" [{n}]" for n in seg["citations"]) for seg in res["segments"]
    )
    numbers = {c["n"] for c in res["citations"]}
    assert {n for seg in res["segments"] for n in seg["citations"]} == numbers
    assert res["citations"] and len(res["passages"]) <= 4
    for c in res["citations"]:
        assert CITATION_KEYS <= set(c)
        assert c["quote"].split(" … ")[0] in c["passage"]
    for p in res["passages"]:
        assert PASSAGE_KEYS <= set(p)
    assert res["citations"][0]["source"] == "sports.example.com"
    assert len(res["passages"]) == 4
    assert res["timings_ms"]["total"] > 0


def test_follow_up_uses_the_conversation(svc: NewsQA) -> None:
    history = [
        {"role": "user", "content": SEED_QUESTION},
        {"role": "assistant", "content": svc.answer(AnswerRequest(SEED_QUESTION)).answer},
    ]
    res = svc.answer(AnswerRequest("And what did China say?", history=history)).to_dict()
    c = _seed_citation(res)
    assert "China" in c["quote"]


def test_a_self_contained_question_is_not_glued_to_the_previous_one(hashed: NewsQA) -> None:
    history = [{"role": "user", "content": SEED_QUESTION}, {"role": "assistant", "content": "…"}]
    question = "When did the central bank raise rates?"
    res = hashed.answer(AnswerRequest(question, history=history)).to_dict()
    alone = hashed.answer(AnswerRequest(question)).to_dict()
    assert res["passages"][0]["title"] == "Central bank raises interest rates by a quarter point"
    # The history changes nothing: same passages, same scores, same answer.
    assert res["passages"] == alone["passages"] and res["segments"] == alone["segments"]
    follow = hashed.answer(AnswerRequest("And what did China say?", history=history)).to_dict()
    assert follow["passages"][0]["title"] == "Korea-US Alliance vs. Japan-US Alliance"


def test_bracketed_numbers_in_an_article_never_break_an_answer(tmp_path: Path) -> None:
    s = open_service(tmp_path / "idx", embedding__embedder="hash")
    s.ingest_records([article(
        "Council votes on harbour bridge",
        "The council approved the harbour bridge on Wednesday [12]. Work starts in May [3][4].",
        url="https://city.example.com/bridge", published_at="2023-02-01",
    )])
    asked = AnswerRequest("When did the council approve the harbour bridge?")
    events = [e.wire() for e in s.answer_events(asked)]
    done = events[-1][1]
    assert not done["abstained"]
    texts = [seg["text"] for seg in done["segments"]]
    assert "The council approved the harbour bridge on Wednesday [12]." in texts
    assert [c["n"] for c in done["citations"]] == [1]
    assert all(seg["citations"] == [1] for seg in done["segments"])
    deltas = [d["text"] for e, d in events if e == "delta"]
    assert "".join(deltas) == done["answer"]
    assert [d["segment"] for e, d in events if e == "delta"] == done["segments"]


def test_ingest_reports_and_skips_broken_files(tmp_path: Path) -> None:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(5):
        (folder / f"good{i}.txt").write_text(
            f"Good story {i}\n\nCity council meets about item {i}."
        )
    (folder / "broken.json").write_text("{not json")
    s = open_service(tmp_path / "idx", embedding__embedder="hash")
    rep = s.ingest([folder])
    assert rep.added == 5 and rep.skipped == 1
    assert rep.problems[0].path.endswith("broken.json")


STORM = [
    (
        "2023-01-20",
        "city.example.com",
        "Power restored to most homes after winter storm",
        "Utility crews restored power to most homes on Friday, four days after the winter storm.",
    ),
    (
        "2023-01-14",
        "weather.example.com",
        "Winter storm heads toward the coast",
        "Forecasters warned on Saturday that a winter storm would reach the coast by Monday.",
    ),
    (
        "2023-01-16",
        "news.example.com",
        "Winter storm hits the coast, cutting power",
        "The winter storm hit the coast on Monday, cutting power to 40,000 homes.",
    ),
]


def test_timeline_and_outlet_views(tmp_path: Path) -> None:
    s = open_service(tmp_path / "idx")
    s.ingest_records(
        [
            article(title, text, url=f"https://{src}/{d}", source=src, published_at=d)
            for d, src, title, text in STORM
        ]
    )
    storm = "What happened with the winter storm and the power?"
    res = s.answer(AnswerRequest(storm, view="timeline")).to_dict()
    lines = res["answer"].splitlines()
    dates = [line[:10] for line in lines]
    assert len(lines) >= 2 and dates == sorted(dates)
    assert all(c["published_at"] for c in res["citations"])
    res = s.answer(AnswerRequest(storm, view="outlets")).to_dict()
    outlets = [line.split(":")[0] for line in res["answer"].splitlines()]
    assert len(outlets) >= 2 and len(set(outlets)) == len(outlets)
    with pytest.raises(ValueError, match="view"):
        s.answer(AnswerRequest("storm", view="sideways"))  # type: ignore[arg-type]
