"""The claim check as a pure function: the hash embedder makes every similarity exact."""

from __future__ import annotations

import pytest

from newsqa.embedding.fake import HashEmbedder
from newsqa.query.claims import (
    ClaimChecker,
    SentenceStream,
    is_abstention,
    parse_claim,
    split_claims,
)
from newsqa.query.prompt import prompt_passages
from newsqa.records import Passage

VOLCANO = (
    "A volcano on the remote island of Tolva erupted on Friday, sending ash eight kilometres "
    "into the sky. Authorities evacuated 3,000 residents from villages on its slopes."
)
RATES = (
    "The central bank raised its benchmark interest rate by 0.25 percentage points on "
    "Wednesday. Inflation cooled to 6.4 percent in January."
)


def passage(cid: int, title: str, text: str, date: str = "2023-03-10") -> Passage:
    return Passage(cid, f"a{cid}", None, title, "example.com", date, text, 1.0)


@pytest.fixture
def checker() -> ClaimChecker:
    given = prompt_passages([
        passage(1, "Volcano erupts on Tolva", VOLCANO),
        passage(2, "Central bank raises rates", RATES, "2023-02-01"),
    ])
    return ClaimChecker(given, HashEmbedder().encode, "How many people left Tolva?", 0.6)


def test_parse_claim_takes_marks_out_of_the_text() -> None:
    c = parse_claim("- Authorities evacuated 3,000 residents [1][2, 3].")
    assert c.text == "Authorities evacuated 3,000 residents."
    assert c.cited == [1, 2, 3]
    assert parse_claim("No citation here.").cited == []


def test_sentences_complete_only_once_their_marks_are_in() -> None:
    stream = SentenceStream()
    out: list[str] = []
    for piece in ["Ash rose eight", " km. [1", "] The U.S. sent", " aid [2] Then", " it ended."]:
        out += stream.feed(piece)
    assert out == ["Ash rose eight km. [1]", "The U.S. sent aid [2]"]
    assert stream.flush() == ["Then it ended."]
    assert split_claims("One fact [1].\nAnother fact [2]") == ["One fact [1].", "Another fact [2]"]


def test_supported_claim_is_kept_with_its_verbatim_quote(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim("Authorities evacuated 3,000 residents from its slopes [1]."))
    assert v.supported and v.cited == [1]
    assert v.quotes == ["Authorities evacuated 3,000 residents from villages on its slopes."]
    assert v.quotes[0] in VOLCANO


def test_invented_number_is_not_supported(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim("Authorities evacuated 4,500 residents from its slopes [1]."))
    assert not v.supported
    assert "4500" in v.reason


def test_invented_name_is_not_supported(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim("Authorities on Marvia evacuated 3,000 residents [1]."))
    assert not v.supported and "marvia" in v.reason


def test_citation_to_a_passage_not_given_is_rejected(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim("Authorities evacuated 3,000 residents [7]."))
    assert not v.supported and v.rejected == [7]
    assert "[7]" in v.reason
    both = checker.check(parse_claim("Authorities evacuated 3,000 residents [1][7]."))
    assert both.supported and both.cited == [1] and both.rejected == [7]


def test_claim_cited_under_the_wrong_passage_is_not_supported(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim("Authorities evacuated 3,000 residents from its slopes [2]."))
    assert not v.supported
    assert checker.check(parse_claim("No passage cited at all.")).reason == "cites no passage"


def test_facts_may_come_from_the_title_the_date_and_the_question(
    checker: ClaimChecker,
) -> None:
    v = checker.check(parse_claim(
        "On March 10 2023 a volcano on Tolva erupted, sending ash eight kilometres into the "
        "sky [1]."
    ))
    assert v.supported, v.reason


def test_claim_spanning_two_sentences_quotes_both(checker: ClaimChecker) -> None:
    v = checker.check(parse_claim(
        "The central bank raised its benchmark interest rate by 0.25 percentage points on "
        "Wednesday and inflation cooled to 6.4 percent in January [2]."
    ))
    assert v.supported and v.quotes == [RATES]


def test_abstention_sentence_is_recognised() -> None:
    assert is_abstention("the archive has no article that answers this")
    assert not is_abstention("The archive shows rates rose.")
