"""The configs of the query components, which are also the settings sections that set them
(``NEWSQA_RETRIEVAL__…``, ``NEWSQA_COMPOSITION__…``, ``NEWSQA_GENERATOR__…``,
``NEWSQA_GENERATION__…``). Fields marked as tuned take their defaults from the ranking profile
(:mod:`newsqa.query.profile`); the rest are fixed here."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from newsqa.query.profile import tuned


@dataclass
class RetrievalConfig:
    """Retrieval: candidates per retriever, their fusion and the date signals of the ranking."""

    k: int = Field(default=8, ge=1, le=50, description="Passages returned by default")
    candidates: int = Field(default=200, ge=10, le=2000, description="Candidates per retriever")
    rrf_k: int = Field(
        default_factory=tuned("retrieval", "rrf_k"), ge=1,
        description="RRF constant (60 in the literature; 30 measured better on news)",
    )
    lexical_weight: float = Field(
        default_factory=tuned("retrieval", "lexical_weight"), ge=0.0,
        description="Weight of the BM25 ranking in the fusion (dense is 1.0)",
    )
    title_weight: float = Field(
        default_factory=tuned("retrieval", "title_weight"), ge=0.0,
        description="BM25 weight of the title column",
    )
    recency_weight: float = Field(
        default_factory=tuned("retrieval", "recency_weight"), ge=0.0,
        description="Strength of the recency prior",
    )
    recency_half_life_days: float = Field(
        default_factory=tuned("retrieval", "recency_half_life_days"), gt=0,
        description="How fast the recency prior decays relative to as_of",
    )
    recency_untimed_share: float = Field(
        default_factory=tuned("retrieval", "recency_untimed_share"), ge=0.0, le=1.0,
        description="Share of the recency prior kept when neither the question nor the request "
        "names a time",
    )
    window_weight: float = Field(
        default_factory=tuned("retrieval", "window_weight"), ge=0.0,
        description="Boost for articles inside a period the question names",
    )
    lead_weight: float = Field(
        default_factory=tuned("retrieval", "lead_weight"), ge=0.0,
        description="Boost for an article's first passage (the news lead); off by default: on "
        "the benchmark it gained 0.006 Hit@10 on the full archive and lost one question on the "
        "slice",
    )
    dense_weight: float = Field(
        default=1.0, ge=0.0, description="Weight of the dense ranking in the fusion"
    )
    window_slack_days: int = Field(
        default=3, ge=0, description="Days either side of a named period still inside it"
    )
    duplicate_cosine: float = Field(
        default=0.95,
        description="A passage this close (cosine) to a chosen one is a duplicate, left out"
    )
    per_article: int = Field(
        default=3, ge=1, description="Most passages of one article in a ranking"
    )
    one_per_story: bool = Field(
        default=True, description="Wire copies of one story count once (the first outlet's article)"
    )


@dataclass
class ComposeConfig:
    """Extractive answers: how many sentences, how they are scored, when to abstain."""

    max_sentences: int = Field(default=3, ge=1, le=10, description="Most sentences in an answer")
    max_words: int = Field(default=80, ge=10, le=400, description="Most words in an answer")
    passages_considered: int = Field(
        default=3, ge=1, description="Best passages whose sentences an answer may quote"
    )
    semantic_sentences: int = Field(
        default=9, ge=1, description="Sentences shortlisted lexically for the semantic comparison"
    )
    abstain_threshold: float = Field(
        default_factory=tuned("composition", "abstain_threshold"), ge=0.0, le=1.0,
        description="Least probability that the passages answer the question (the evidence "
        "model's, see evidence_weights) for an answer; under it the answer abstains, listing the "
        "closest articles (chosen on the January–June 2023 questions: 2% of answerable ones "
        "abstain)",
    )
    topic_threshold: float = Field(
        default_factory=tuned("composition", "topic_threshold"),
        description="Least linear evidence (the best sentence's relevance less what the passages "
        "miss of the question) for a timeline or outlets view, which lists a story's articles "
        "rather than answering (calibrated on the January–June 2023 questions before the "
        "evidence model: 1% of answerable ones under it)",
    )
    evidence_weights: dict[str, float] = Field(
        default_factory=tuned("composition", "evidence_weights"),
        description="The evidence model: logistic weights (and bias) of the signals that tell "
        "passages that answer a question from passages on its topic (newsqa.query.silence; "
        "fitted on January–June 2023 questions, answerable and not, by bench/answers.py "
        "--fit-evidence)",
    )
    semantic_weight: float = Field(
        default=0.6, description="Weight of a sentence's similarity in meaning to the question"
    )
    lexical_weight: float = Field(default=0.4, description="Weight of a sentence's words in common")
    phrase_weight: float = Field(
        default=0.1, description="Weight of the question's phrases repeated"
    )
    focus_weight: float = Field(
        default=2.0, description="Extra weight of the question's names and numbers among its words"
    )
    novelty_weight: float = Field(
        default=0.2, description="Weight of what a sentence adds beyond the question's own words"
    )
    answer_type_weight: float = Field(
        default=0.3,
        description="Weight of a sentence fitting the kind of answer asked (who, when, …)"
    )
    rank_penalty: float = Field(
        default=0.02, description="Score lost per place of a sentence's passage"
    )
    keep_ratio: float = Field(
        default=0.5, description="Share of the best sentence's score a further sentence needs"
    )
    support_threshold: float = Field(
        default_factory=tuned("composition", "support_threshold"),
        description="Relevance (meaning and words in common, before answer type) a sentence "
        "after the first needs, so that each sentence addresses the question itself",
    )
    coverage_penalty: float = Field(
        default_factory=tuned("composition", "coverage_penalty"), ge=0.0,
        description="Evidence lost when the passages miss the names and numbers the question "
        "asks about (scaled by the share missed)",
    )
    absence_penalty: float = Field(
        default_factory=tuned("composition", "absence_penalty"), ge=0.0,
        description="Evidence lost when the passages miss the question's words, weighted by "
        "their rarity in the archive (scaled by the share of the question's weight missed)",
    )
    headlines: bool = Field(
        default=False,
        description="Headlines may answer too (quoted as such); off: a headline belongs on the "
        "source card, not in the answer",
    )
    redundant_cosine: float = Field(
        default=0.9,
        description="A sentence this close in meaning to a chosen one repeats it, left out"
    )


@dataclass(frozen=True)
class GeneratorConfig:
    """The language model server that may write answers, and how long to wait for it."""

    url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible chat completions server (llama.cpp, "
        "Ollama, vLLM, a hosted API), e.g. http://127.0.0.1:8080/v1; unset: generated answers "
        "are off",
    )
    model: str = Field(default="default", description="Model name sent to the generator")
    key: str | None = Field(default=None, description="Bearer token for the generator")
    timeout_s: float = Field(
        default=30.0, gt=0, le=600,
        description="Seconds a generated answer may take in all; past it the extractive answer "
        "is given, with a note",
    )
    max_tokens: int = Field(default=256, ge=16, le=4096, description="Longest generated answer")
    temperature: float = Field(
        default=0.0, ge=0.0, description="Sampling temperature sent to the model"
    )


@dataclass(frozen=True)
class GenerateConfig:
    """Generated answers: what the model is given and how what it writes is checked."""

    passages: int = Field(
        default=5, ge=1, le=20, description="Best passages given to the model, numbered [1]…"
    )
    max_sentences: int = Field(
        default=3, ge=1, le=10, description="Most sentences the model is asked for"
    )
    min_similarity: float = Field(
        default_factory=tuned("generation", "min_similarity"), ge=0.0, le=1.0,
        description="How close in meaning (cosine) a generated sentence must be to a sentence "
        "(or two adjacent ones) of the passage it cites to count as supported, besides stating "
        "only names and numbers the passage states; chosen on January–June 2023 by "
        "bench/claims.py",
    )
    claim_encoder: Literal["reader", "embedder"] = Field(
        default="reader",
        description="What embeds the generated sentences and the cited passages' sentences for "
        "that comparison: reader, the encoder of the dual reader the package ships (or "
        "NEWSQA_READER__DIR's), whatever NEWSQA_READER__MODE says (with it, bench/claims.py "
        "measured fewer sentences of another article accepted under a citation); embedder, the "
        "search model, which is also used where there is no dual reader",
    )
    unsupported: Literal["flag", "drop"] = Field(
        default="flag",
        description='What happens to a generated sentence its sources do not support: flag '
        'shows it marked "not supported by the sources", drop leaves it out',
    )
