"""Whether a question is in another language than English, which the archive and its models are:
by script (Chinese, Japanese, Korean, Cyrillic, Arabic, ...) or, for Latin script, by counting
the common function words of French, Spanish, German, Italian, Portuguese and Dutch against
English ones. No model: a name in a question ("Angela Merkel", "la Liga") is not a sentence
in another language, so a few foreign words never outweigh the English around them."""

from __future__ import annotations

import re

_KANA = re.compile(r"[\u3040-\u30ff]")
_SCRIPTS: tuple[tuple[str, str], ...] = (
    ("Chinese", r"[\u4e00-\u9fff\u3400-\u4dbf\u3040-\u30ff]"),  # Japanese when it has kana
    ("Korean", r"[\uac00-\ud7af\u1100-\u11ff]"),
    ("Russian or another Cyrillic-script language", r"[\u0400-\u04ff]"),
    ("Arabic", r"[\u0600-\u06ff]"),
    ("Hebrew", r"[\u0590-\u05ff]"),
    ("Greek", r"[\u0370-\u03ff]"),
    ("Hindi or another Devanagari-script language", r"[\u0900-\u097f]"),
    ("Thai", r"[\u0e00-\u0e7f]"),
)

_ENGLISH = frozenset(
    "the a an of to in on at for from with by about is are was were be been do does did what "
    "who whom whose which when where why how will would can could should has have had this that "
    "these those it its and or not than there they he she his her their we you i say said".split()
)
_LATIN: dict[str, frozenset[str]] = {
    "French": frozenset(
        "le la les un une des du de et est sont que qui quoi quel quelle quels quelles pourquoi "
        "comment où dans sur pour avec par au aux ce cette ces il elle ils elles nous vous ne pas "
        "a été ont fait dit selon combien quand".split()),
    "Spanish": frozenset(
        "el la los las un una unos unas del de y es son que qué quién quiénes cuál cuáles por "
        "para con en sobre al se su sus como cómo dónde cuándo cuánto cuántos ha han fue dijo "
        "según porqué".split()),
    "German": frozenset(
        "der die das den dem des ein eine einen einem und ist sind war wer was wie wo warum "
        "welche welcher welches wann mit von zu im auf für über nicht hat haben wurde sagte "
        "laut gegen bei".split()),
    "Italian": frozenset(
        "il lo la gli le un una del della dei delle di e è sono che chi cosa quale quali perché "
        "come dove quando con per su nel nella ha hanno stato detto secondo".split()),
    "Portuguese": frozenset(
        "o a os as um uma do da dos das de e é são que quem qual quais por para com em sobre "
        "no na nos nas como onde quando foi disse segundo porque".split()),
    "Dutch": frozenset(
        "de het een en is zijn wat wie welke waarom hoe waar wanneer met van voor op over niet "
        "heeft hebben werd zei volgens bij".split()),
}
_WORD = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)?")


def foreign_language(question: str) -> str | None:
    """The language ``question`` seems to be written in when it is not English (its name, as
    "French"), else None. Names and quoted titles in an English question are not counted."""
    letters = [c for c in question if c.isalpha()]
    if not letters:
        return None
    for name, pattern in _SCRIPTS:
        if len(re.findall(pattern, question)) * 2 >= len(letters):
            return "Japanese" if name == "Chinese" and _KANA.search(question) else name
    # Capitalised words past the first are names (people, places, titles): left out.
    words = [w for i, w in enumerate(_WORD.findall(question)) if i == 0 or not w[:1].isupper()]
    words = [re.split(r"['’]", w.lower())[-1] if re.match(r"(?i)[ldjmnst]['’]", w) else w.lower()
             for w in words]
    english = sum(w in _ENGLISH for w in words)
    best, score = None, 0
    for name, vocab in _LATIN.items():
        hits = sum(w in vocab and w not in _ENGLISH for w in words)
        if hits > score:
            best, score = name, hits
    if best is not None and score >= 2 and score > english:
        return best
    return None


def not_english_note(question: str) -> str | None:
    """What an abstention adds when ``question`` is not in English: that the archive and the
    model are English, and to ask in English; None for an English question."""
    language = foreign_language(question)
    if language is None:
        return None
    return (f"This question seems to be in {language}: the archive and its model are English, "
            "so a question in another language rarely finds its articles. Ask it in English.")
