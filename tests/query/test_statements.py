"""What an answer may state: sentences, not the page furniture around them. The shapes below
are those of real pages of several outlets (a heading between paragraphs, a byline, a glued
newsletter label, a photo credit, a list of related links, a headline cut short)."""

from __future__ import annotations

import pytest

from newsqa.query.statements import dangling, statement

NOT_STATEMENTS = [
    "Christian Eriksen response helped Damar Hamlin",  # a heading
    "By Jane Doe, Staff Writer",  # a byline
    "Contributing: Chris Bumbaca",
    "NFL newsletter:Sign up now to get football news delivered to your inbox",
    "Opinion:ESPN's immediate coverage of Damar Hamlin situation done with right tone.",
    "LEBRON:Revisit milestone moments of his career.",
    "What is cardiac arrest? ",  # a heading asked as a question
    "2024 World Happiness Report: Finland tops list, US ...",  # a headline cut short
    "Bird flu risk to general public…",
    "(AP Photo/Evan Vucci)",
    "Sign up for our daily newsletter.",
    "Read more: The five things to know about the storm.",
    "BREAKING NEWS: THE BRIDGE HAS COLLAPSED INTO THE RIVER.",
    "Latest NFL Scores and Schedules",  # a link in a list
    "Editor's note:",
    "A 'letter' from George Santos:'I am recusing myself from committees.",
    "Year founded: 1914 Ownership: Government Sector: Government.",  # a fact box
    "",
]


@pytest.mark.parametrize("text", NOT_STATEMENTS)
def test_page_furniture_is_no_statement(text: str) -> None:
    assert statement(text) is None


STATEMENTS = [
    "U.S. officials said 12 people died on Tuesday.",
    'Biden said: "We will rebuild the bridge."',
    "The meeting starts at 10:30 a.m. on Monday.",
    "“It was the best day of my life,” she said.",
    "The reason: inflation kept rising through the spring.",
    "Stocks fell 3% (the most since March).",
    "NASA confirmed the launch!",
    "The U.S./Mexico border saw 2 million crossings.",
]


@pytest.mark.parametrize("text", STATEMENTS)
def test_sentences_are_statements_as_written(text: str) -> None:
    assert statement(text) == text


@pytest.mark.parametrize(
    ("text", "stated"),
    [
        ('Editor\'s note: On Thursday, the Bills said Hamlin has shown "remarkable improvement."',
         'On Thursday, the Bills said Hamlin has shown "remarkable improvement."'),
        ("What to know: Milk from sick dairy cattle can carry the virus.",
         "Milk from sick dairy cattle can carry the virus."),
        ("UPDATE: The ferry resumed service on Friday.", "The ferry resumed service on Friday."),
        ("• Coldest place on Earth: The coldest temperature was recorded at Vostok in 1983.",
         "The coldest temperature was recorded at Vostok in 1983."),
        ("(Editor's Note: Shane Battier is a former teammate of LeBron James.",
         "Shane Battier is a former teammate of LeBron James."),
        ("11:25: Best new artist goes to Billie Eilish.", "Best new artist goes to Billie Eilish."),
        ("Dan Kitwood/Getty Images Charles receives the crown during the ceremony.",
         "Charles receives the crown during the ceremony."),
        ("Aaron Chown/Pool/AFP/Getty Images Sunak speaks at the party conference.",
         "Sunak speaks at the party conference."),
        ("- The board met on Monday and voted to resign.",
         "The board met on Monday and voted to resign."),
    ],
)
def test_a_leading_label_is_left_out_of_the_statement(text: str, stated: str) -> None:
    assert statement(text) == stated
    assert stated in text  # still the article's own words, verbatim


@pytest.mark.parametrize(
    "text",
    ["He said the talks would resume.", "The former was elected in 2019.", "This is new.",
     "But the vote failed.", "However, officials disagreed.", "Their plan collapsed.",
     "“It is over,” the mayor said."],
)
def test_referents_dangle(text: str) -> None:
    assert dangling(text)


@pytest.mark.parametrize(
    "text",
    ["This year the festival moved to May.", "Hector Ruiz won the race.", "The mayor resigned.",
     "These days prices are falling.", "Heat waves hit Europe.", "Theirry Henry retired."],
)
def test_names_and_time_phrases_do_not_dangle(text: str) -> None:
    assert not dangling(text)
