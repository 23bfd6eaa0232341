"""Settings: environment first, explicit arguments over it, None included."""

from __future__ import annotations

from pathlib import Path

import pytest

from newsqa.settings import get_settings


def test_an_explicit_none_overrides_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_API_KEY", "from-env")
    assert get_settings().api_key == "from-env"
    assert get_settings(api_key=None).api_key is None
    assert get_settings(api_key="given").api_key == "given"


def test_a_left_out_setting_keeps_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_INDEX", "/tmp/elsewhere")
    monkeypatch.setenv("NEWSQA_K", "12")
    s = get_settings(embedder="hash")
    assert (s.index, s.k, s.embedder) == (Path("/tmp/elsewhere"), 12, "hash")


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEWSQA_K", "0")
    with pytest.raises(ValueError, match="k"):
        get_settings()
