"""The settings object: sections by concern, read from ``NEWSQA_<SECTION>__<NAME>`` variables,
over the ranking profile's weights, with the old flat names still understood."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, Field
from pydantic.fields import FieldInfo
from pydantic_settings import (
    BaseSettings,
    EnvSettingsSource,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from newsqa.query.config import ComposeConfig, GenerateConfig, GeneratorConfig, RetrievalConfig
from newsqa.query.profile import DEFAULT_PROFILE, load_profile
from newsqa.settings.legacy import OLD_NAMES, env_name, legacy_values
from newsqa.settings.sections import (
    ApiSettings,
    EmbeddingSettings,
    FeedSettings,
    IndexSettings,
    IngestSettings,
    LogSettings,
    MilvusSettings,
    ReaderSettings,
    WatchSettings,
)


class Settings(BaseSettings):
    """Every knob of the product, by section; override one with ``NEWSQA_<SECTION>__<NAME>``
    (``NEWSQA_RETRIEVAL__K=10``). ``docs/settings.md`` lists them all."""

    model_config = SettingsConfigDict(
        env_prefix="NEWSQA_", env_nested_delimiter="__", extra="ignore"
    )

    index: IndexSettings = Field(default_factory=IndexSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    embedding: EmbeddingSettings = Field(default_factory=EmbeddingSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    retrieval: RetrievalConfig = Field(default_factory=RetrievalConfig)
    composition: ComposeConfig = Field(default_factory=ComposeConfig)
    reader: ReaderSettings = Field(default_factory=ReaderSettings)
    generator: GeneratorConfig = Field(default_factory=GeneratorConfig)
    generation: GenerateConfig = Field(default_factory=GenerateConfig)
    api: ApiSettings = Field(default_factory=ApiSettings)
    log: LogSettings = Field(default_factory=LogSettings)
    feeds: FeedSettings = Field(default_factory=FeedSettings)
    watch: WatchSettings = Field(default_factory=WatchSettings)
    ranking_profile: str = Field(
        DEFAULT_PROFILE,
        description="The ranking profile whose tuned weights are the defaults of the fields "
        "marked tuned: the name of one shipped in the package or the path of a JSON file; a "
        "variable of its own still overrides one weight",
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Arguments, then the nested variables, then the old flat ones, then the profile."""
        return (
            init_settings, _NestedEnv(settings_cls), _LegacyEnv(settings_cls),
            _Profile(settings_cls),
        )


#: Old names that are also a section's name: read as the old scalar, never as the section.
_SHADOWED = {f"newsqa_{old}" for old in OLD_NAMES if old in Settings.model_fields}


class _NestedEnv(EnvSettingsSource):
    """The ``NEWSQA_<SECTION>__<NAME>`` variables (``NEWSQA_INDEX`` alone is the old name)."""

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {k: v for k, v in super()._load_env_vars().items() if k.lower() not in _SHADOWED}


class _Source(PydanticBaseSettingsSource):
    def get_field_value(self, field: FieldInfo, field_name: str) -> tuple[Any, str, bool]:
        return None, field_name, False  # only __call__ is used


class _LegacyEnv(_Source):
    """The old flat variables, each at its new place."""

    def __call__(self) -> dict[str, Any]:
        return legacy_values()


class _Profile(_Source):
    """The tuned weights of the ranking profile the higher sources name."""

    def __call__(self) -> dict[str, Any]:
        name = self.current_state.get("ranking_profile") or DEFAULT_PROFILE
        return {k: dict(v) for k, v in load_profile(str(name)).values.items()}


def get_settings(**overrides: Any) -> Settings:
    """Build settings from the environment, with explicit overrides taking precedence.

    An override names a setting as its variable does, below ``NEWSQA_`` in lower case:
    ``get_settings(index__path="indexes/news", retrieval__k=10)``; a whole section may be given
    as a mapping (``retrieval={"k": 10}``). An override given as None sets None
    (``api__key=None`` turns a key from the environment off); leave a setting out to keep the
    environment's value. An unknown name raises TypeError.
    """
    nested: dict[str, Any] = {}
    for key, value in overrides.items():
        section, sep, name = key.partition("__")
        field = Settings.model_fields.get(section)
        if field is None or (sep and name not in _field_names(field.annotation)):
            raise TypeError(f"unknown setting {key!r}{_hint(key)}")
        if sep:
            nested.setdefault(section, {})[name] = value
        elif isinstance(value, Mapping):
            nested.setdefault(section, {}).update(value)
        else:
            nested[section] = value
    return Settings(**nested)


def _field_names(section: Any) -> set[str]:
    if isinstance(section, type) and issubclass(section, BaseModel):
        return set(section.model_fields)
    return set(getattr(section, "__pydantic_fields__", {}))


def _hint(key: str) -> str:
    paths = OLD_NAMES.get(key)
    if not paths:
        return ""
    return " (now " + ", ".join(env_name(p)[len("NEWSQA_"):].lower() for p in paths) + ")"
