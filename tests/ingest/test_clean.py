"""Tests for the pure cleaning helpers."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from newsqa.ingest.clean import (
    clean_text,
    decode_bytes,
    html_to_text,
    normalize_date,
    source_from_url,
    split_authors,
    truncate_text,
)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2013-11-30", "2013-11-30"),
        ("2013-11-30T06:00:00+09:00", "2013-11-30"),
        ("2013-11-30T23:30:00Z", "2013-11-30"),
        ("2013-11-30 06:00", "2013-11-30"),
        ("Sat, 30 Nov 2013 06:00:00 +0900", "2013-11-30"),
        ("Sat, 30 Nov 2013 06:00:00 GMT", "2013-11-30"),
        ("November 30, 2013, 06:00", "2013-11-30"),
        ("Tuesday, March 31, 2020", "2020-03-31"),
        ("Nov. 30, 2013", "2013-11-30"),
        ("30 November 2013", "2013-11-30"),
        ("2013/11/30", "2013-11-30"),
        ("20131130", "2013-11-30"),
        ("1385791200", "2013-11-30"),
        (1385791200, "2013-11-30"),
        (1385791200000, "2013-11-30"),
        (datetime(2013, 11, 30, 6, 0, tzinfo=UTC), "2013-11-30"),
        (date(2013, 11, 30), "2013-11-30"),
        (time.strptime("2013-11-30", "%Y-%m-%d"), "2013-11-30"),
        (" 2023-01-05 ", "2023-01-05"),
    ],
)
def test_normalize_date_accepts_common_forms(value: object, expected: str) -> None:
    assert normalize_date(value) == expected


@pytest.mark.parametrize(
    "value", [None, "", "   ", "yesterday", "November 2013", "November 30", "2013",
              "2013-02-30", "not a date at all", True, {"y": 2013}, ["2013-11-30"]],
)
def test_normalize_date_gives_none_for_unusable_values(value: object) -> None:
    assert normalize_date(value) is None


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://www.cnn.com/2023/01/05/x.html", "cnn.com"),
        ("http://edition.CNN.com/x", "edition.cnn.com"),
        ("https://www.usatoday.com:443/story?x=1", "usatoday.com"),
        ("www.bbc.co.uk/news", "bbc.co.uk"),
        ("//apnews.com/article/x", "apnews.com"),
        ("", None),
        (None, None),
        ("cnn.com:8080/x", "cnn.com"),
        ("urn:wire:1", None),
        ("mailto:desk@cnn.com", None),
        ("not a url", None),
        ("N/A", None),
        ("https://", None),
    ],
)
def test_source_from_url(url: str | None, expected: str | None) -> None:
    assert source_from_url(url) == expected


def test_clean_text_normalises_spacing_and_keeps_paragraphs() -> None:
    raw = ("  First\tline  with   spaces\u00a0here \r\nsecond line"
           "\r\n\r\n\r\n\r\n\x00Next\x07 para \n\n\n")
    assert clean_text(raw) == "First line with spaces here\nsecond line\n\nNext para"


def test_clean_text_applies_nfc_and_drops_invisible_characters() -> None:
    assert clean_text("\ufeffcafe\u0301\u200b!") == "café!"
    assert clean_text("") == ""
    assert clean_text(" \n\t ") == ""


def test_decode_bytes_handles_utf8_bom_and_legacy_encodings() -> None:
    assert decode_bytes("café".encode()) == "café"
    assert decode_bytes(b"\xef\xbb\xbfcaf\xc3\xa9") == "café"
    assert decode_bytes("café".encode("utf-16")) == "café"
    assert decode_bytes("café".encode("cp1252")) == "café"
    legacy = "Le café est très bon — “naïve” façade, déjà vu. El niño comió piña."
    assert decode_bytes(legacy.encode("cp1252")) == legacy
    assert decode_bytes("Straße in Köln".encode("latin-1")) == "Straße in Köln"


def test_decode_bytes_still_recognises_non_western_legacy_text() -> None:
    russian = "Привет, как дела? Это тестовая новость о погоде в Москве."
    assert decode_bytes(russian.encode("cp1251")) == russian


def test_html_to_text_keeps_paragraphs_and_drops_scripts() -> None:
    markup = "<p>One &amp; <b>two</b>.</p><script>var x = 1;</script><p>Three<br>four</p>"
    assert html_to_text(markup) == "One & two.\n\nThree\nfour"
    assert html_to_text("plain &amp; simple") == "plain & simple"


def test_truncate_text_cuts_at_the_last_sentence_end_within_the_limit() -> None:
    text = "First sentence here. Second sentence is here. Third one goes past the limit."
    cut = truncate_text(text, 50)
    assert cut == "First sentence here. Second sentence is here."
    assert truncate_text(text, 1000) == text


def test_truncate_text_respects_multibyte_characters() -> None:
    text = "é" * 100  # 200 bytes, no sentence or word boundary
    cut = truncate_text(text, 51)
    assert cut == "é" * 25
    assert len(cut.encode("utf-8")) <= 51


def test_split_authors() -> None:
    assert split_authors("By Jane Doe and John Roe") == ["Jane Doe", "John Roe"]
    assert split_authors("Jane Doe; John Roe") == ["Jane Doe", "John Roe"]
    assert split_authors(["Jane Doe", {"name": "John Roe"}, "Jane Doe"]) == ["Jane Doe", "John Roe"]
    assert split_authors("Jack H. Park") == ["Jack H. Park"]
    assert split_authors(None) == []
    assert split_authors(42) == []
