"""A small hand-made set of questions, each with the sentence that answers it and sentences
about the same story that do not. Training records the torch model's logits on it in
``reader.json`` (``probe``), so that the shipped int8 graph can be checked against the model it
was made from, and a test checks that the shipped reader puts each answer first."""

from __future__ import annotations

from newsqa.reader.inputs import Candidate

#: (question, the answering candidate, others about the same story).
PROBES: list[tuple[str, Candidate, list[Candidate]]] = [
    (
        "Which team won the championship game on Sunday?",
        Candidate("The Kansas City Chiefs won the championship on Sunday, beating the "
                  "Philadelphia Eagles 38-35.", "Chiefs edge Eagles in thriller"),
        [Candidate("The halftime show drew a record television audience.",
                   "Chiefs edge Eagles in thriller"),
         Candidate("Tickets for the game sold for thousands of dollars on resale sites.",
                   "Chiefs edge Eagles in thriller"),
         Candidate("Fans began arriving at the stadium hours before kickoff.",
                   "Chiefs edge Eagles in thriller")],
    ),
    (
        "How many people were killed in the earthquake?",
        Candidate("The earthquake killed at least 2,300 people, officials said on Tuesday.",
                  "Powerful quake strikes region"),
        [Candidate("Rescue teams from several countries arrived to help.",
                   "Powerful quake strikes region"),
         Candidate("The quake struck before dawn as residents slept.",
                   "Powerful quake strikes region"),
         Candidate("Aftershocks continued to rattle the area through the week.",
                   "Powerful quake strikes region")],
    ),
    (
        "Who was named the company's new chief executive?",
        Candidate("The board named Maria Lopez as chief executive, effective next month.",
                  "Retail giant picks new leader"),
        [Candidate("Shares of the company rose 4% in early trading.",
                   "Retail giant picks new leader"),
         Candidate("The company has struggled with falling sales for two years.",
                   "Retail giant picks new leader"),
         Candidate("Analysts said the search had taken longer than expected.",
                   "Retail giant picks new leader")],
    ),
    (
        "Which country will host the next summit?",
        Candidate("Leaders agreed that Brazil will host the next summit in 2025.",
                  "Summit ends with climate pledge"),
        [Candidate("The talks ran late into the night on Saturday.",
                   "Summit ends with climate pledge"),
         Candidate("Protesters gathered outside the conference center.",
                   "Summit ends with climate pledge"),
         Candidate("Several leaders left before the final session.",
                   "Summit ends with climate pledge")],
    ),
]


def probe_pairs() -> list[tuple[str, list[Candidate]]]:
    """Each probe question with its candidates, the answering one first."""
    return [(q, [answer, *others]) for q, answer, others in PROBES]
