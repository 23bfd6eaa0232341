"""Ranking profiles: the weights tuned on a benchmark, kept as versioned package data.

A profile is a JSON file (``query/profiles/<name>.json``) with a ``name``, a ``tuned`` note
saying what it was tuned on and when, and per config section (``retrieval``, ``composition``,
``generation``) the values of that section's tuned fields. Those fields take their defaults
from :data:`DEFAULT_PROFILE`; ``NEWSQA_RANKING_PROFILE`` selects another one by name or path.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

#: The profile whose weights are the defaults.
DEFAULT_PROFILE = "ranking-2026-12"
#: The config sections a profile may set.
SECTIONS = ("retrieval", "composition", "generation")


@dataclass(frozen=True)
class RankingProfile:
    """One profile: its name, what it was tuned on, and the values it sets per section."""

    name: str
    tuned: str
    values: dict[str, dict[str, Any]]


def packaged_profiles() -> list[str]:
    """The names of the profiles shipped in the package."""
    folder = resources.files("newsqa.query") / "profiles"
    return sorted(p.name[: -len(".json")] for p in folder.iterdir() if p.name.endswith(".json"))


@lru_cache(maxsize=8)
def load_profile(name_or_path: str = DEFAULT_PROFILE) -> RankingProfile:
    """The profile named ``name_or_path`` (one in the package) or stored at that path.

    Raises ValueError for a profile that does not exist or sets a section it may not.
    """
    if name_or_path in packaged_profiles():
        text = (resources.files("newsqa.query") / "profiles" / f"{name_or_path}.json").read_text()
    elif Path(name_or_path).is_file():
        text = Path(name_or_path).read_text()
    else:
        known = ", ".join(packaged_profiles())
        raise ValueError(f"no ranking profile {name_or_path!r} (packaged: {known}; or a path)")
    doc = json.loads(text)
    values = {k: dict(v) for k, v in doc.items() if k in SECTIONS}
    unknown = set(doc) - {"name", "tuned", *SECTIONS}
    if unknown:
        raise ValueError(f"ranking profile {name_or_path!r}: unknown keys {sorted(unknown)}")
    return RankingProfile(str(doc.get("name", name_or_path)), str(doc.get("tuned", "")), values)


def tuned(section: str, name: str) -> Callable[[], Any]:
    """A default factory: the value :data:`DEFAULT_PROFILE` gives ``section.name``."""

    def default() -> Any:
        return load_profile().values[section][name]

    default.__doc__ = f"{section}.{name} of the {DEFAULT_PROFILE} ranking profile"
    return default


def is_tuned(section: str, name: str) -> bool:
    """Whether ``section.name`` takes its default from the ranking profile."""
    return name in load_profile().values.get(section, {})
