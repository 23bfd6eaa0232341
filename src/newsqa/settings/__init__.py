"""Typed settings for newsqa, nested by concern and read from the environment on demand
(``NEWSQA_<SECTION>__<NAME>``; see ``docs/settings.md``)."""

from newsqa.settings.model import Settings, get_settings

__all__ = ["Settings", "get_settings"]
