"""``bench/fragments.py`` judges each answer sentence against the original article (its lines
kept) by rules of its own, one per fault; ``bench/answer_quality.py``'s abstention curve is what
abstaining below each evidence threshold would give. Both are pure: hand-made articles and rows
here, no model and no index."""

from __future__ import annotations

from typing import Any

import pytest

from bench.answer_quality import abstention_curve, parse_overrides, thresholds_grid
from bench.fragments import FAULTS, fragment_share, sentence_faults

URL, OTHER, UNKNOWN = "https://news.example/storm", "https://news.example/vote", "https://x.example/"
TITLE = "Storm hits coast as thousands flee"
TEXT = """By Jane Doe, CNN

Storm hits coast
The storm made landfall on Tuesday. It destroyed hundreds of homes.
They were rebuilt within a year.

Officials said 3,000 people fled. This year the season started early.
What to know: Milk from the farm is safe.
"""
ARTICLES = {
    URL: {"title": TITLE, "text": TEXT},
    OTHER: {"title": "Council votes on budget", "text": "The council voted on Monday.\n"},
}
CITATIONS = [
    {"n": 1, "url": URL, "title": TITLE, "quote": "", "passage": ""},
    {"n": 2, "url": OTHER, "title": "Council votes on budget", "quote": "", "passage": ""},
    {"n": 3, "url": UNKNOWN, "title": "Elsewhere", "quote": "", "passage": ""},
]


def seg(text: str, n: int = 1, quote: str | None = None) -> dict[str, Any]:
    """A segment citing ``n``, quoting ``quote`` (its own text by default)."""
    return {"text": text, "citations": [n], "quotes": [text if quote is None else quote],
            "lead": "", "span": None, "flag": ""}


def faults(*segments: dict[str, Any]) -> list[list[str]]:
    return sentence_faults(list(segments), CITATIONS, ARTICLES)


def one(text: str, n: int = 1, quote: str | None = None) -> list[str]:
    """The faults of ``text`` as an answer's only sentence."""
    return faults(seg(text, n, quote))[0]


def test_the_faults_in_their_order_of_precedence() -> None:
    assert FAULTS == ("glued", "headline", "truncated", "label", "byline", "no_end", "question",
                      "dangling")


@pytest.mark.parametrize("text", [
    "The storm made landfall on Tuesday.",
    "Officials said 3,000 people fled.",
    '"We lost everything," a resident said.',
    "The council voted on Monday (after a long debate).",
])
def test_a_clean_sentence_has_no_fault(text: str) -> None:
    assert one(text) == []


def test_a_quote_across_a_line_break_is_glued() -> None:
    glued = "Storm hits coast The storm made landfall on Tuesday."
    assert one(glued) == ["glued"]
    # the same words within one line are not; a quote of two pieces is glued if one piece is
    assert one("The storm made landfall on Tuesday. It destroyed hundreds of homes.") == []
    assert one("Text.", quote=f"Officials said 3,000 people fled. … {glued}") == ["glued"]
    # glued needs the article: unknown, the text alone is judged
    assert one(glued, n=3) == []


@pytest.mark.parametrize(("text", "quote", "expected"), [
    (TITLE, None, ["headline", "no_end"]),  # the title
    (TITLE + ".", None, ["headline"]),
    ("Storm hits coast", None, ["headline", "no_end"]),  # the title's first words
    ("Storm hits coast as thousands flee.", TITLE, ["headline"]),  # the quote is the title
    ("Council votes on budget", None, ["headline", "no_end"]),  # another citation's title
    ("Elsewhere and here", None, ["no_end"]),  # a title's first word is not enough
    ("Storm hits", None, ["no_end"]),  # nor two
])
def test_a_headline_belongs_on_the_source_card(
    text: str, quote: str | None, expected: list[str]
) -> None:
    n = 2 if text.startswith("Council") else 1
    assert one(text, n=n, quote=quote) == expected


def test_the_whole_headline_of_a_cut_title_is_a_headline() -> None:
    cut = "How quick thinking stopped a ransomware attack from crippling a ..."
    arts = {URL: {"title": cut, "text": "Body.\n"}}
    cites = [{"n": 1, "url": URL, "title": cut}]
    full = "How quick thinking stopped a ransomware attack from crippling a hospital"
    assert sentence_faults([seg(full)], cites, arts) == [["headline", "no_end"]]
    assert sentence_faults([seg("How quick thinking saved the day.")], cites, arts) == [[]]


@pytest.mark.parametrize(("text", "expected"), [
    ("The storm made landfall on…", ["truncated", "no_end"]),
    ("The storm made landfall on...", ["truncated"]),
    ('"The storm made landfall on..."', ["truncated"]),
    ("The storm made landfall on …)", ["truncated", "no_end"]),
])
def test_a_cut_sentence_is_truncated(text: str, expected: list[str]) -> None:
    assert one(text) == expected


@pytest.mark.parametrize("text", [
    "NFL newsletter:Sign up for the newsletter.",
    "LEBRON:Revisit the game.",
    "What to know: Milk from the farm is safe.",
    "Contributing: Chris Bumbaca.",
    "Editor's note: Jim Himes represents Connecticut.",
    "Editor’s Note: Jim Himes represents Connecticut.",
    "Opinion:ESPN's coverage is thin.",
    'Breaking news: "Nobody was hurt," police said.',
    "Key figures: 3,000 people fled.",
    "Update:the roads reopened on Monday.",  # glued, even before a lower-case word
])
def test_a_label_and_a_colon_is_a_label(text: str) -> None:
    assert one(text) == ["label"]


@pytest.mark.parametrize("text", [
    'The mayor said: "We will rebuild."',
    "The mayor told reporters: It is over.",
    "The meeting starts at 10:30 on Monday.",
    "At 10:30 the roads reopened.",
    "The reason is simple: prices rose.",
    "The mayor of the big city finally announced: Nothing changed.",
])
def test_a_colon_after_a_reporting_verb_a_time_or_past_five_words_is_no_label(text: str) -> None:
    assert one(text) == []


@pytest.mark.parametrize(("text", "expected"), [
    ("By Jane Doe, CNN", ["byline", "no_end"]),
    ("By Jane Doe and John Roe, special to USA TODAY", ["byline", "no_end"]),
    ("Firefighters work at the scene. (AP Photo/John Smith)", ["byline", "no_end"]),
    ("Protesters gather in Paris. Jane Doe/Getty Images", ["byline", "no_end"]),
    ("A flooded street in Miami. Getty Images", ["byline", "no_end"]),
    ("Photo: Reuters", ["label", "byline", "no_end"]),
    ("Credit: Jane Doe", ["label", "byline", "no_end"]),
])
def test_bylines_and_photo_credits(text: str, expected: list[str]) -> None:
    assert one(text) == expected


@pytest.mark.parametrize("text", [
    "By Tuesday, the storm had moved north.",
    "By late Monday the water had receded.",
    "Getty Images sued Stability AI on Tuesday.",
    "The photo was sold to Getty Images.",
])
def test_a_sentence_opening_on_by_or_naming_getty_is_no_byline(text: str) -> None:
    assert one(text) == []


@pytest.mark.parametrize("text", [
    "Officials said 3,000 people fled",
    "Key facts",
    "- Storms, floods and fires",
])
def test_a_line_without_an_end_is_no_statement(text: str) -> None:
    assert one(text) == ["no_end"]


@pytest.mark.parametrize("text", [
    "Will the storm return?",
    '"Why now?"',
    "Who pays for the damage?)",
])
def test_a_question_is_no_answer(text: str) -> None:
    assert one(text) == ["question"]


@pytest.mark.parametrize("text", [
    "It destroyed hundreds of homes.",
    "It’s the worst storm in years.",
    "He said the roads were closed.",
    "Their homes were flooded.",
    "This was the worst storm.",
    "These are the facts.",
    "The former mayor's term is over.",  # read as a referent by the rule, as in "The former"
    "The latter was closed.",
    "The two leaders met on Monday.",
    "Both sides agreed.",
    "Such storms are rare.",
    "But the storm moved on.",
    "However, the roads reopened.",
    "Meanwhile, the council met.",
    "Still, nobody was hurt.",
    "So the roads stayed closed.",
])
def test_a_first_sentence_opening_on_a_referent_dangles(text: str) -> None:
    assert one(text) == ["dangling"]


@pytest.mark.parametrize("text", [
    "This year the season started early.",
    "This week the council met.",
    "That morning the roads were closed.",
    "These weekends are busy.",
    "This spring was wet.",
    "Italy won the match.",
    "Sofia won the race.",
    "Heavy rain fell.",
    "Itself a small town, Lyon grew.",
    "The two-year deal was signed.",
    "Stillwater flooded.",
])
def test_a_time_word_or_a_longer_word_does_not_dangle(text: str) -> None:
    assert one(text) == []


def test_a_referent_right_after_its_sentence_in_the_article_does_not_dangle() -> None:
    first = seg("The storm made landfall on Tuesday.")
    it = seg("It destroyed hundreds of homes.")
    they = seg("They were rebuilt within a year.")
    assert faults(first, it) == [[], []]
    assert faults(first, it, they) == [[], [], []]  # adjacent across a line break
    # the same sentence after an unrelated sentence of the same article, or of another
    assert faults(seg("Officials said 3,000 people fled."), it) == [[], ["dangling"]]
    assert faults(seg("The council voted on Monday.", n=2), it) == [[], ["dangling"]]
    assert faults(first, they) == [[], ["dangling"]]  # a sentence skipped
    assert faults(it, first) == [["dangling"], []]  # the wrong order


def test_a_later_referent_in_an_unknown_article_is_given_the_benefit_of_the_doubt() -> None:
    assert faults(seg("A storm hit.", n=3), seg("It flooded roads.", n=3)) == [[], []]
    assert faults(seg("It flooded roads.", n=3)) == [["dangling"]]


def test_a_segment_without_quotes_or_citations_is_judged_on_its_text() -> None:
    bare = {"text": "Storm hits coast The storm made landfall on Tuesday.", "citations": []}
    assert sentence_faults([bare], CITATIONS, ARTICLES) == [[]]
    no_quotes = {"text": "Storm hits coast The storm made landfall on Tuesday.", "citations": [1]}
    assert sentence_faults([no_quotes], CITATIONS, ARTICLES) == [["glued"]]


def test_fragment_share_counts_sentences_by_primary_fault() -> None:
    rows = [
        {"abstained": False, "citations": CITATIONS,
         "segments": [seg("It destroyed hundreds of homes."), seg("By Jane Doe, CNN")]},
        {"abstained": False, "citations": CITATIONS,
         "segments": [seg("The storm made landfall on Tuesday."),
                      seg("It destroyed hundreds of homes.")]},
        {"abstained": True, "citations": CITATIONS, "segments": [seg("Key facts")]},
        {"abstained": False, "citations": [], "segments": []},
    ]
    got = fragment_share(rows, ARTICLES)
    assert (got["answers"], got["sentences"], got["faulty"]) == (3, 4, 2)
    assert got["share"] == pytest.approx(0.5)
    assert got["faults"] == {**dict.fromkeys(FAULTS, 0), "dangling": 1, "byline": 1}
    assert got["any"] == {**dict.fromkeys(FAULTS, 0), "dangling": 1, "byline": 1, "no_end": 1}
    assert got["dangling_first"] == 1
    assert got["dangling_first_share"] == pytest.approx(1 / 3)
    empty = fragment_share([], ARTICLES)
    assert empty["share"] is None and empty["dangling_first_share"] is None


# --------------------------------------------------------------------------- abstention curve
def row(answerable: bool, evidence: float | None, hit: bool = False,
        abstained: bool = False) -> dict[str, Any]:
    return {"answerable": answerable, "evidence": evidence, "answer_hit": hit,
            "citation_hit": hit, "abstained": abstained}


ROWS = [
    row(True, 0.5, hit=True),
    row(True, 0.3, hit=True),
    row(True, 0.45, hit=True, abstained=True),  # already abstained: never counts as a hit
    row(False, 0.25),
    row(False, 0.41),
]


def test_the_abstention_curve_abstains_below_each_threshold() -> None:
    got = {c["threshold"]: c for c in abstention_curve(ROWS, [0.0, 0.3, 0.42, 0.6])}
    expected = {  # threshold: (abstain answerable, abstain unanswerable, answer hit)
        0.0: (1 / 3, 0.0, 2 / 3),
        0.3: (1 / 3, 0.5, 2 / 3),  # evidence equal to the threshold answers
        0.42: (2 / 3, 1.0, 1 / 3),
        0.6: (1.0, 1.0, 0.0),
    }
    for t, (abst_a, abst_u, hit) in expected.items():
        c = got[t]
        assert c["abstain_answerable"] == pytest.approx(abst_a), t
        assert c["abstain_unanswerable"] == pytest.approx(abst_u), t
        assert c["answer_hit"] == pytest.approx(hit), t
        assert c["citation_hit"] == pytest.approx(hit), t


def test_the_default_grid_spans_the_evidence_seen_in_steps() -> None:
    grid = thresholds_grid(ROWS, 0.02)
    assert grid[0] == pytest.approx(0.24) and grid[-1] == pytest.approx(0.5)
    assert len(grid) == 14
    curve = abstention_curve(ROWS)
    assert [c["threshold"] for c in curve] == grid
    assert curve[0]["abstain_answerable"] == pytest.approx(1 / 3)  # only the one abstained
    assert curve[-1]["answer_hit"] == pytest.approx(1 / 3)  # 0.5 still answers at 0.5
    assert thresholds_grid([row(True, None)]) == []


def test_a_half_without_unanswerable_questions_has_no_rate_for_them() -> None:
    curve = abstention_curve([row(True, 0.4, hit=True), row(True, None, hit=True)], [0.1])
    assert curve[0]["abstain_unanswerable"] is None
    assert curve[0]["abstain_answerable"] == pytest.approx(0.5)  # no evidence: abstains


def test_settings_overrides_are_read_as_json_where_they_parse() -> None:
    got = parse_overrides(["composition__abstain_threshold=0.4", "reader__mode=on",
                           "composition__headlines=false", "reader__abstain_below=null"])
    assert got == {"composition__abstain_threshold": 0.4, "reader__mode": "on",
                   "composition__headlines": False, "reader__abstain_below": None}
    with pytest.raises(ValueError):
        parse_overrides(["threshold"])
