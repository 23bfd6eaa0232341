"""Answers read by a reader: an exact fake scorer makes each rule checkable (the best-scored
sentence leads and is cited, weak evidence abstains, further sentences need a share of the best
probability and may not restate a chosen one, what the reader reads of each candidate)."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from newsqa.query.compose import ComposeConfig, Scored, answer_candidates
from newsqa.query.read import ReadConfig, read_answer, reader_candidates
from newsqa.query.sentences import analyse
from newsqa.reader.inputs import Candidate, candidate_text
from newsqa.records import Passage


class Fake:
    """Logit +4 for a sentence holding one of ``good``, +1 for ``fair``, -4 otherwise."""

    def __init__(self, good: Sequence[str], fair: Sequence[str] = ()) -> None:
        self.good, self.fair = good, fair
        self.seen: list[Candidate] = []

    def logits(self, question: str, candidates: Sequence[Candidate]) -> np.ndarray:
        self.seen += candidates
        return np.array([4.0 if any(g in c.sentence for g in self.good) else
                         1.0 if any(f in c.sentence for f in self.fair) else -4.0
                         for c in candidates], dtype=np.float32)

    def probability(self, logit: float) -> float:
        return 1 / (1 + math.exp(-logit))


def _p(i: int, text: str, title: str = "Game report") -> Passage:
    return Passage(chunk_id=i, article_id=f"a{i}", url=f"https://n.example/{i}", title=title,
                   source="n.example", published_at="2023-01-0" + str(i + 1), text=text, score=1.0)


PASSAGES = [
    _p(0, "Fans filled the stadium long before kickoff. The weather was cold and windy all day."),
    _p(1, "The Buffalo Bills won the final on Sunday night. Their coach praised the defence."),
    _p(2, "Ticket prices rose sharply this season across the league. Parking was scarce."),
]


def test_the_best_scored_sentence_leads_and_is_cited() -> None:
    got = read_answer("Which team won the final?", PASSAGES, Fake(["Bills"]), ComposeConfig(),
                      ReadConfig(passages=3, abstain_below=0.5))
    assert not got.abstained
    assert got.segments[0].text.startswith("The Buffalo Bills won the final")
    assert got.citations[0].url == "https://n.example/1"
    assert got.evidence == 1 / (1 + math.exp(-4.0))
    assert len(got.segments) == 1  # nothing else reaches half the best probability


def test_weak_evidence_abstains() -> None:
    got = read_answer("Which team won the final?", PASSAGES, Fake([]), ComposeConfig(),
                      ReadConfig(passages=3, abstain_below=0.5))
    assert got.abstained and got.citations == []


def test_depth_bounds_what_is_read() -> None:
    fake = Fake(["Bills"])
    got = read_answer("Which team won the final?", PASSAGES, fake, ComposeConfig(),
                      ReadConfig(passages=1, abstain_below=0.5))
    assert got.abstained  # the answer is in the second passage
    assert {c.sentence for c in fake.seen} <= {"Fans filled the stadium long before kickoff.",
                                               "The weather was cold and windy all day."}


def test_further_sentences_need_a_share_of_the_best_and_must_be_new() -> None:
    passages = [*PASSAGES, _p(3, "The Buffalo Bills won the final on Sunday night, fans said.")]
    got = read_answer("Which team won the final?", passages, Fake(["Bills"], ["coach"]),
                      ComposeConfig(), ReadConfig(passages=4, abstain_below=0.5, keep_share=0.5))
    texts = [s.text for s in got.segments]
    assert texts[0].startswith("The Buffalo Bills won")
    assert not any(t.startswith("The Buffalo Bills won") for t in texts[1:])  # a restatement
    assert any("coach" in t for t in texts[1:])  # 0.73 >= 0.5 * 0.98


def test_a_candidate_carries_its_headline_and_the_sentence_before() -> None:
    cands, reads = reader_candidates(PASSAGES[1:2], analyse("Which team won the final?"))
    second = reads[[s for _, _, s in cands].index("Their coach praised the defence.")]
    assert second == Candidate("Their coach praised the defence.", "Game report",
                               "The Buffalo Bills won the final on Sunday night.")
    assert candidate_text(second) == "Their coach praised the defence."  # what the reader reads


def test_reranking_orders_the_passages_read_by_their_best_sentence() -> None:
    from newsqa.query.read import read_passages

    reading = read_passages("Which team won the final?", PASSAGES, Fake(["Bills"], ["Ticket"]),
                            ComposeConfig(), ReadConfig(passages=3, abstain_below=0.5))
    assert reading.order == [1, 2, 0]
    extra = _p(4, "An unread passage about the league's finances and its new television deal.")
    assert [p.chunk_id for p in reading.reranked([*PASSAGES, extra])] == [1, 2, 0, 4]


def _scored(question: str, composer: dict[str, float], evidence: float) -> Scored:
    """The composer's view of PASSAGES with exact scores: ``composer`` maps a word to the score
    of the sentences holding it (others 0)."""
    q = analyse(question)
    cands = answer_candidates(PASSAGES, q)
    scores = [next((v for w, v in composer.items() if w in s), 0.0) for _, _, s in cands]
    return Scored(q, cands, scores, np.zeros((len(cands), 1)), max(scores), evidence,
                  scores, {}, 1.0)


def test_the_composer_score_is_fused_into_the_logit() -> None:
    question = "Which team won the final?"
    scored = _scored(question, {"Ticket": 1.0}, 0.0)
    alone = read_answer(question, PASSAGES, Fake([], ["Bills"]), ComposeConfig(),
                        ReadConfig(abstain_below=0.0), scored)
    assert alone.segments[0].text.startswith("The Buffalo Bills")  # weight 0: the reader decides
    fused = read_answer(question, PASSAGES, Fake([], ["Bills"]), ComposeConfig(),
                        ReadConfig(abstain_below=0.0, composer_weight=6.0), scored)
    assert fused.segments[0].text.startswith("Ticket prices rose")  # -4 + 6 * 1 > 1 + 0
    assert fused.evidence == 1 / (1 + math.exp(-2.0))


def test_the_composer_evidence_moves_abstention() -> None:
    question = "Which team won the final?"
    read = ReadConfig(abstain_below=0.5, evidence_weight=2.0)
    weak = read_answer(question, PASSAGES, Fake([], ["Bills"]), ComposeConfig(), read,
                       _scored(question, {}, -1.0))
    assert weak.abstained and weak.evidence == 1 / (1 + math.exp(1.0))  # 1 + 2 * -1
    strong = read_answer(question, PASSAGES, Fake([], ["Bills"]), ComposeConfig(), read,
                         _scored(question, {}, 0.5))
    assert not strong.abstained and strong.evidence == 1 / (1 + math.exp(-2.0))


def test_a_read_config_takes_what_the_reader_recorded_unless_overridden() -> None:
    from types import SimpleNamespace

    info = SimpleNamespace(abstain_below=0.09, keep_share=0.3, rank_penalty=1.5,
                           composer_weight=2.0, evidence_weight=20.8)
    got = ReadConfig.recorded(info, 5)  # type: ignore[arg-type]
    assert got == ReadConfig(passages=5, abstain_below=0.09, keep_share=0.3, rerank=False,
                             rank_penalty=1.5, composer_weight=2.0, evidence_weight=20.8)
    assert ReadConfig.recorded(info, 3, 0.0, rerank=True) == ReadConfig(  # type: ignore[arg-type]
        3, 0.0, 0.3, True, 1.5, 2.0, 20.8)
