"""Settings: nested sections read from NEWSQA_<SECTION>__<NAME>, explicit arguments over the
environment (None included), the ranking profile under both, and the old flat names of 0.1
still read, with a deprecation warning, where the new names are not set."""

from __future__ import annotations

import json
import tomllib
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from newsqa.query.config import ComposeConfig, GenerateConfig, RetrievalConfig
from newsqa.query.profile import DEFAULT_PROFILE, load_profile, packaged_profiles
from newsqa.settings import Settings, get_settings, legacy
from tests.support import REPO


@pytest.fixture(autouse=True)
def _fresh_warnings() -> Iterator[None]:
    """Each test sees the once-per-process deprecation warnings afresh."""
    legacy._warned.clear()
    yield
    legacy._warned.clear()


def test_an_explicit_none_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_API__KEY", "from-env")
    assert get_settings().api.key == "from-env"
    assert get_settings(api__key=None).api.key is None
    assert get_settings(api__key="given").api.key == "given"


def test_a_left_out_setting_keeps_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_INDEX__PATH", "/tmp/elsewhere")
    monkeypatch.setenv("NEWSQA_RETRIEVAL__K", "12")
    s = get_settings(embedding__embedder="hash", retrieval={"candidates": 300})
    assert (s.index.path, s.retrieval.k, s.embedding.embedder) == (
        Path("/tmp/elsewhere"), 12, "hash")
    assert s.retrieval.candidates == 300


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_RETRIEVAL__K", "0")
    with pytest.raises(ValueError, match="k"):
        get_settings()


def test_an_unknown_override_is_refused_with_the_new_name() -> None:
    with pytest.raises(TypeError, match="embedding__embedder"):
        get_settings(embedder="hash")
    with pytest.raises(TypeError, match="unknown setting"):
        get_settings(retrieval__nonsense=1)


def test_the_query_sections_are_the_component_configs() -> None:
    s = get_settings()
    assert type(s.retrieval) is RetrievalConfig and s.retrieval == RetrievalConfig()
    assert type(s.composition) is ComposeConfig and s.composition == ComposeConfig()
    assert type(s.generation) is GenerateConfig and s.generation == GenerateConfig()


#: The values of 0.1's flat settings that the ranking profile now holds: unchanged.
TUNED_BEFORE = {
    "retrieval": {"rrf_k": 30, "lexical_weight": 1.5, "title_weight": 0.5, "recency_weight": 1.0,
                  "recency_half_life_days": 14.0, "recency_untimed_share": 0.1,
                  "window_weight": 1.0, "lead_weight": 0.0},
    "composition": {
        "abstain_threshold": 0.2, "coverage_penalty": 0.05, "absence_penalty": 0.1,
        "support_threshold": 0.3, "topic_threshold": 0.3,
        "evidence_weights": {"bias": -3.0972, "best": 1.1458, "meaning": 1.4369, "typed": 1.6659,
                             "covered": 1.5851, "missing": -1.2912},
    },
    "generation": {"min_similarity": 0.5},
}


def test_the_packaged_profile_holds_the_weights_of_before() -> None:
    profile = load_profile()
    assert DEFAULT_PROFILE in packaged_profiles() and profile.name == DEFAULT_PROFILE
    assert profile.tuned and profile.values == TUNED_BEFORE
    s = get_settings()
    for section, values in TUNED_BEFORE.items():
        for name, value in values.items():
            assert getattr(getattr(s, section), name) == value, (section, name)


def test_a_profile_by_path_and_a_variable_over_one_weight(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "mine.json"
    path.write_text(json.dumps({"name": "mine", "tuned": "a test",
                                "retrieval": {"rrf_k": 60, "lead_weight": 0.2}}))
    monkeypatch.setenv("NEWSQA_RANKING_PROFILE", str(path))
    s = get_settings()
    assert (s.retrieval.rrf_k, s.retrieval.lead_weight, s.retrieval.title_weight) == (60, 0.2, 0.5)
    monkeypatch.setenv("NEWSQA_RETRIEVAL__RRF_K", "45")
    assert get_settings().retrieval.rrf_k == 45
    assert get_settings(ranking_profile=DEFAULT_PROFILE).retrieval.lead_weight == 0.0
    monkeypatch.setenv("NEWSQA_RANKING_PROFILE", "no-such-profile")
    with pytest.raises(ValueError, match="no ranking profile"):
        get_settings()


#: Every flat variable of 0.1: a value to set it to, and where that value must show up.
OLD_NAME_TABLE: list[tuple[str, str, str, Any]] = [
    ("NEWSQA_INDEX", "/tmp/old-index", "index.path", Path("/tmp/old-index")),
    ("NEWSQA_BACKEND", "milvus", "index.backend", "milvus"),
    ("NEWSQA_VECTOR_CODEC", "flat", "index.vector_codec", "flat"),
    ("NEWSQA_MILVUS_URI", "http://m:19530", "milvus.uri", "http://m:19530"),
    ("NEWSQA_MILVUS_TOKEN", "u:p", "milvus.token", "u:p"),
    ("NEWSQA_MODEL_PATH", "/models/x", "embedding.model_path", "/models/x"),
    ("NEWSQA_EMBEDDER", "hash", "embedding.embedder", "hash"),
    ("NEWSQA_EMBED_BACKEND", "torch", "embedding.backend", "torch"),
    ("NEWSQA_EMBED_PRECISION", "fp32", "embedding.precision", "fp32"),
    ("NEWSQA_EMBED_BATCH_SIZE", "32", "embedding.batch_size", 32),
    ("NEWSQA_COMPOSE_EMBED_BACKEND", "index", "embedding.compose_backend", "index"),
    ("NEWSQA_SENTENCE_VECTORS", "false", "embedding.sentence_vectors", False),
    ("NEWSQA_CACHE_DIR", "/tmp/c", "embedding.cache_dir", Path("/tmp/c")),
    ("NEWSQA_CHUNK_TOKENS", "200", "ingest.chunk_tokens", 200),
    ("NEWSQA_CHUNK_OVERLAP", "10", "ingest.chunk_overlap", 10),
    ("NEWSQA_MAX_ARTICLE_BYTES", "5000", "ingest.max_article_bytes", 5000),
    ("NEWSQA_MAX_FILE_BYTES", "50000", "ingest.max_file_bytes", 50000),
    ("NEWSQA_MAX_LINE_BYTES", "4000", "ingest.max_line_bytes", 4000),
    ("NEWSQA_INGEST_BATCH_ARTICLES", "16", "ingest.batch_articles", 16),
    ("NEWSQA_K", "12", "retrieval.k", 12),
    ("NEWSQA_CANDIDATES", "300", "retrieval.candidates", 300),
    ("NEWSQA_RRF_K", "60", "retrieval.rrf_k", 60),
    ("NEWSQA_TITLE_WEIGHT", "0.7", "retrieval.title_weight", 0.7),
    ("NEWSQA_LEXICAL_WEIGHT", "1.2", "retrieval.lexical_weight", 1.2),
    ("NEWSQA_RECENCY_HALF_LIFE_DAYS", "7", "retrieval.recency_half_life_days", 7.0),
    ("NEWSQA_RECENCY_WEIGHT", "0.5", "retrieval.recency_weight", 0.5),
    ("NEWSQA_RECENCY_UNTIMED_SHARE", "0.2", "retrieval.recency_untimed_share", 0.2),
    ("NEWSQA_WINDOW_WEIGHT", "2", "retrieval.window_weight", 2.0),
    ("NEWSQA_LEAD_WEIGHT", "0.1", "retrieval.lead_weight", 0.1),
    ("NEWSQA_ABSTAIN_THRESHOLD", "0.4", "composition.abstain_threshold", 0.4),
    ("NEWSQA_COVERAGE_PENALTY", "0.1", "composition.coverage_penalty", 0.1),
    ("NEWSQA_ABSENCE_PENALTY", "0.2", "composition.absence_penalty", 0.2),
    ("NEWSQA_ANSWER_MAX_SENTENCES", "2", "composition.max_sentences", 2),
    ("NEWSQA_ANSWER_MAX_SENTENCES", "2", "generation.max_sentences", 2),
    ("NEWSQA_ANSWER_MAX_WORDS", "60", "composition.max_words", 60),
    ("NEWSQA_READER", "on", "reader.mode", "on"),
    ("NEWSQA_READER_DIR", "/r", "reader.dir", "/r"),
    ("NEWSQA_READER_PASSAGES", "4", "reader.passages", 4),
    ("NEWSQA_READER_RERANK", "true", "reader.rerank", True),
    ("NEWSQA_READER_ABSTAIN_BELOW", "0.6", "reader.abstain_below", 0.6),
    ("NEWSQA_GENERATOR_URL", "http://llm/v1", "generator.url", "http://llm/v1"),
    ("NEWSQA_GENERATOR_MODEL", "m", "generator.model", "m"),
    ("NEWSQA_GENERATOR_KEY", "sk", "generator.key", "sk"),
    ("NEWSQA_GENERATOR_TIMEOUT", "12", "generator.timeout_s", 12.0),
    ("NEWSQA_GENERATOR_MAX_TOKENS", "128", "generator.max_tokens", 128),
    ("NEWSQA_GENERATOR_PASSAGES", "4", "generation.passages", 4),
    ("NEWSQA_CLAIM_MIN_SIMILARITY", "0.6", "generation.min_similarity", 0.6),
    ("NEWSQA_UNSUPPORTED_CLAIMS", "drop", "generation.unsupported", "drop"),
    ("NEWSQA_API_KEY", "secret", "api.key", "secret"),
    ("NEWSQA_API_KEY_READS", "1", "api.key_reads", True),
    ("NEWSQA_PORT", "8765", "api.port", 8765),
    ("NEWSQA_MAX_UPLOAD_BYTES", "1000", "api.max_upload_bytes", 1000),
    ("NEWSQA_MAX_QUESTION_CHARS", "500", "api.max_question_chars", 500),
    ("NEWSQA_LOG_FORMAT", "json", "log.format", "json"),
    ("NEWSQA_PROGRESS_INTERVAL", "2", "log.progress_interval", 2.0),
    ("NEWSQA_FEED_INTERVAL", "60", "feeds.interval", 60.0),
    ("NEWSQA_FEED_TIMEOUT", "5", "feeds.timeout", 5.0),
    ("NEWSQA_FEED_MAX_BYTES", "10000", "feeds.max_bytes", 10000),
    ("NEWSQA_FEED_MAX_REDIRECTS", "2", "feeds.max_redirects", 2),
    ("NEWSQA_FEED_HOST_INTERVAL", "0", "feeds.host_interval", 0.0),
    ("NEWSQA_FEED_BATCH_ITEMS", "3", "feeds.batch_items", 3),
    ("NEWSQA_FEED_ALLOW_PRIVATE", "true", "feeds.allow_private", True),
    ("NEWSQA_FEED_USER_AGENT", "bot/1", "feeds.user_agent", "bot/1"),
]


def _at(s: Settings, path: str) -> Any:
    section, name = path.split(".")
    return getattr(getattr(s, section), name)


def test_the_table_covers_every_old_name() -> None:
    assert {old for old, *_ in OLD_NAME_TABLE} == {
        legacy.old_env_name(o) for o in legacy.OLD_NAMES}
    assert {(old, path) for old, _, path, _ in OLD_NAME_TABLE} == {
        (legacy.old_env_name(o), p) for o, paths in legacy.OLD_NAMES.items() for p in paths}


@pytest.mark.parametrize(("old", "value", "path", "expected"), OLD_NAME_TABLE)
def test_an_old_name_still_sets_its_new_place_with_a_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
    old: str, value: str, path: str, expected: Any,
) -> None:
    monkeypatch.setenv(old, value)
    new = legacy.env_name(path)
    with pytest.warns(DeprecationWarning, match=new):
        assert _at(get_settings(), path) == expected
    assert any(old in r.getMessage() and "deprecated" in r.getMessage() for r in caplog.records)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # once per name per process: the second read is quiet
        assert _at(get_settings(), path) == expected


@pytest.mark.parametrize(("old", "value", "path", "expected"), OLD_NAME_TABLE)
def test_the_new_name_wins_over_the_old(
    monkeypatch: pytest.MonkeyPatch, old: str, value: str, path: str, expected: Any
) -> None:
    other = _other(expected)
    monkeypatch.setenv(old, value)
    monkeypatch.setenv(legacy.env_name(path), str(other).lower() if isinstance(other, bool)
                       else str(other))
    with pytest.warns(DeprecationWarning, match=old):
        assert _at(get_settings(), path) == other


def _other(value: Any) -> Any:
    """A value of the same type as ``value`` and different from it, valid for every setting
    of the table."""
    if isinstance(value, bool):
        return not value
    if isinstance(value, Path):
        return Path("/tmp/new")
    if isinstance(value, int):
        return value + 1
    if isinstance(value, float):
        return value / 2 if value else 0.5
    return {"milvus": "local", "flat": "fp16", "hash": "model", "torch": "onnx-int8",
            "fp32": "bf16", "index": "onnx-int8", "on": "off", "drop": "flag",
            "json": "text"}.get(value, value + "-new")


def test_the_reference_is_current() -> None:
    """docs/settings.md is what ``python -m newsqa.settings.reference`` writes today."""
    from newsqa.settings.reference import render

    assert (REPO / "docs" / "settings.md").read_text() == render(), (
        "docs/settings.md is stale: python -m newsqa.settings.reference > docs/settings.md")
    assert "docs/settings.md" in (REPO / "README.md").read_text()


def test_the_profiles_are_package_data() -> None:
    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text())
    assert "query/profiles/*.json" in pyproject["tool"]["setuptools"]["package-data"]["newsqa"]
