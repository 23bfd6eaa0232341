"""Which sentences of an article can be shown as statements of an answer.

A news page holds more than prose: headings, bylines, datelines, captions and photo credits,
labels ("What to know:"), lists of related links, newsletter and promotion lines, headlines cut
short with "…". Ingest keeps each on its own line (:func:`newsqa.ingest.chunk.chunk_text`), so
that none is read as part of the next sentence; they stay searchable, but an answer states only
sentences: prose that ends as a sentence ends and is not addressed to the reader.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from newsqa.records import Passage
from newsqa.text import split_sentences

# A sentence ends in . ! (a question is not an answer) before any closing quotes or brackets.
_ENDS = re.compile(r"[.!][\"'”’)\]]*$")
_TRUNCATED = re.compile(r"(…|\.\.\.)[\"'”’)\]]*$")
# "NFL newsletter:Sign up", "LEBRON:Revisit": a label glued to what follows (not 10:30).
_GLUED_LABEL = re.compile(r"^[^:]{1,40}?[^\W\d][\"'”’]?:(?=[^\W\d_]|[\"'“‘])")
# "What to know: Milk …", "Editor's note: On Thursday …": a short label and a colon.
_LABEL = re.compile(r"^\(?((?:[\w'’&.-]+\s+){0,4}[\w'’&.-]+):\s+(?=[\"“‘]?[A-Z0-9])")
_REPORTING = re.compile(
    r"\b(said|says|say|told|tells|wrote|writes|added|adds|asked|asks|explained|noted|"
    r"announced|reported|tweeted|posted|stated|declared|warned)\b"
)
_BYLINE = re.compile(r"^(By|Photo|Photos|Credit|Image|Video|Watch|Listen)\b[\s:]", re.I)
_CREDIT = re.compile(r"\((AP|Reuters|AFP|Getty|Photo|Credit)\b[^)]*\)$|Getty Images\W*$")
# Lines addressed to the reader, not news: "Sign up for …", "Click here", "Subscribe …".
_PROMO = re.compile(
    r"^(sign up|subscribe|click|tap|follow us|follow (?:the|our)|read more|read the|"
    r"download|listen to|watch (?:the|our|live)|share this|see also|get the|get our|"
    r"don't miss|also read|related:)\b",
    re.I,
)
_LETTER = re.compile(r"[^\W\d_]")
# A list item's bullet, or an emoji used as one.
_BULLET = re.compile(r"^(?:[•·▪►▸◦*–—-]|[\U0001F300-\U0001FAFF\u2600-\u27BF]\ufe0f?)+\s*")
# A live blog's time stamp: "11:25: Best new artist goes to …", "10:40 a.m. ET: …".
_STAMP = re.compile(r"^\(?\d{1,2}:\d\d(?:\s?[ap]\.?m\.?)?(?:\s?[A-Z]{2,3})?\)?:?\s+")
# A caption's photo credit run into it: "Dan Kitwood/Getty Images Charles receives …".
_CAPTION_CREDIT = re.compile(
    r"^[^\s/]+(?:\s+[^\s/]+){0,3}(?:/[^/]{1,40}?)*/\s?(?:Getty Images|AP|AFP|Reuters|EPA(?:-EFE)?|"
    r"Pool|Shutterstock|Bloomberg|Sipa USA|NurPhoto|Imagn|USA TODAY(?: Sports| Network)?)\s+"
    r"(?=[A-Z\"“])"
)
# A fact box's fields: "Year founded: 1914 Ownership: Government Sector: …".
_FIELD = re.compile(r"(?:^|\s)[A-Z][\w'’]*(?:\s[\w'’]+){0,2}:\s")


def statement(sentence: str) -> str | None:
    """``sentence`` as an answer may state it, or None when it is not a statement.

    A leading label is left out ("Editor's note: On Thursday, the Bills said …" states "On
    Thursday, the Bills said …"); what is left is still a verbatim part of the article. None
    for a line that does not end as a sentence (a heading, a byline, a list of links, a
    caption's credit), a question, a headline cut short ("…"), a line in capitals, a line
    addressed to the reader ("Sign up for our newsletter."), or a label with nothing after it.
    """
    text = _BULLET.sub("", sentence.strip())
    if _PROMO.search(text) or len(_FIELD.findall(text)) >= 2:
        return None
    for prefix in (_STAMP, _CAPTION_CREDIT):
        m = prefix.match(text)
        if m:
            text = text[m.end():]
    label = _label(text)
    if label:
        text = text[label:].lstrip()
    if not text or not _ENDS.search(text) or _TRUNCATED.search(text):
        return None
    if _BYLINE.search(text) or _CREDIT.search(text) or _PROMO.search(text):
        return None
    if _glued(text) or _shouting(text):
        return None
    return text


def _label(text: str) -> int:
    """Length of a short label that opens ``text`` ("What to know: "), 0 when none."""
    m = _LABEL.match(text)
    if not m or _REPORTING.search(m.group(1).lower()) or '"' in m.group(1):
        return 0
    return m.end()


def _glued(text: str) -> bool:
    """True for text opening on a label glued to the next word ("Opinion:ESPN's …")."""
    return bool(_GLUED_LABEL.match(text))


def _shouting(text: str) -> bool:
    """True for text written mostly in capitals (a heading or a kicker)."""
    letters = _LETTER.findall(text)
    return len(letters) >= 8 and sum(1 for c in letters if c.isupper()) > 0.7 * len(letters)


_REFERENT = re.compile(
    r"^(?:[\"“‘(])?(?:(?:He|She|They|It|Its|His|Her|Their|Them|Both|Such|Another|Those|"
    r"The former|The latter|The two|The three|But|And|Or|So|Yet|However|Meanwhile|Also|Still|"
    r"Instead|Otherwise|Nevertheless|Moreover|Furthermore|Besides|Then|Thus|Therefore)\b|"
    r"(?:This|That|These)\b(?!\s+(?:year|week|month|morning|afternoon|evening|night|weekend|"
    r"days|season|time|summer|winter|spring|fall|autumn|decade|century|past|coming|is\s+(?:a|the)\s+"
    r"first)\b))"
)


def dangling(sentence: str) -> bool:
    """True when ``sentence`` opens on a word that points back at something said before ("He",
    "The former", "This", "But"): shown without what precedes it, it does not say whom or
    what it is about. "This year …" and the like are not referents."""
    return bool(_REFERENT.match(sentence.lstrip()))


def with_antecedents(
    picked: Sequence[tuple[int, int, str]], passages: Sequence[Passage], max_words: int = 10**6
) -> list[tuple[int, int, str]]:
    """``picked`` (passage index, position, sentence) in order, each sentence that opens on a
    referent ("He", "The former", "This") shown right after the sentence it follows in its
    passage, which is added before it when not already there; one whose antecedent cannot be
    shown (the passage's first sentence, or one that is not a statement) is left out. After the
    first, a sentence (with the antecedent it brings) that would take the answer past
    ``max_words`` is left out too."""
    out: list[tuple[int, int, str]] = []
    words = 0
    for pi, si, text in picked:
        shown = {(a, b) for a, b, _ in out}
        if (pi, si) in shown:
            continue
        unit = [(pi, si, text)]
        if dangling(text) and not (out and out[-1][:2] == (pi, si - 1)):
            before = _antecedent(passages[pi], si)
            if before is None or (pi, si - 1) in shown:
                continue
            unit.insert(0, (pi, si - 1, before))
        n_words = sum(len(t.split()) for _, _, t in unit)
        if out and words + n_words > max_words:
            continue
        out += unit
        words += n_words
    return out


def _antecedent(p: Passage, si: int) -> str | None:
    """The statement before sentence ``si`` of ``p`` when it can be shown to open the context
    (a statement that itself opens on no referent), else None."""
    if si <= 0:
        return None
    sentences = split_sentences(p.text)
    before = statement(sentences[si - 1]) if si - 1 < len(sentences) else None
    return before if before is not None and not dangling(before) else None
