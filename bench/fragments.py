"""Does each answer sentence read as a sentence? A fast scorer of extractive answers' sentences
against the ORIGINAL article texts, which keep their line structure (paragraphs, headings,
bylines and captions are lines of their own).

No model, no index, and nothing from :mod:`newsqa.query`: this judges the product, so it does
not reuse the product's own filter. Each sentence (segment) of an answer gets the faults of
:data:`FAULTS` it shows, in their order of precedence:

* ``glued``: its quote spans a line break of the article (a heading or byline read as the
  start of the next paragraph): it is in the text with lines joined by spaces, in no one line;
* ``headline``: it is the article's title or the title's first words, or its quote is the title
  (a headline belongs on the source card, not in the answer);
* ``truncated``: it ends in "…" or "...";
* ``label``: it opens on a short label and a colon (``NFL newsletter:Sign up``, ``What to know:
  Milk from…``, ``Contributing: Chris Bumbaca``, ``Editor's note: …``);
* ``byline``: a byline (``By Jane Doe, CNN``) or a photo credit (``(AP Photo/…)``, ``Photo:``,
  ``Credit:``, ``… /Getty Images``);
* ``no_end``: it does not end in . ! or ? (a heading or a list line shown as a statement);
* ``question``: it ends in "?" (a question is not an answer statement);
* ``dangling``: it opens on a referent or connective (He, They, This, However, …) as the first
  sentence of an answer, or later when the sentence before it in the answer is not the one
  before it in the article.

    .venv/bin/python -m bench.fragments bench/.cache/answer-quality-default.json [--examples 5]
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

#: The faults a sentence may have, in order of precedence (a sentence's first is its primary).
FAULTS = ("glued", "headline", "truncated", "label", "byline", "no_end", "question", "dangling")

_WS = re.compile(r"\s+")
_CLOSERS = "\"'”’)]»"
_TRUNCATED = re.compile(r"(?:…|\.\.\.)[\s" + re.escape(_CLOSERS) + r"]*$")
_ENDS = re.compile(r"[.!?][\s" + re.escape(_CLOSERS) + r"]*$")
_QUESTION = re.compile(r"\?[\s" + re.escape(_CLOSERS) + r"]*$")
_REPORTING = frozenset("said says told tells wrote added asked explained noted".split())
_LABEL_NEXT = re.compile(r"\s*[A-Z0-9\"'“‘]")
_GLUED_COLON = re.compile(r"\w:\w")
_BYLINE = re.compile(r"By\s+[A-Z]")
#: Lower-case words a byline may hold besides names ("By Jane Doe, special to USA TODAY").
_BYLINE_WORDS = frozenset(
    "and of the for to de da van von staff writer writers reporter correspondent special "
    "contributor editor with in".split()
)
_CREDIT = re.compile(
    r"\((?:AP|AFP|Reuters|EPA)?\s*Photo\b|\bAP Photo/|^(?:Photo|Photograph|Image|Credit)s?\s*:"
    r"|^Photo by\b|(?:/|\||\bvia|\bPhoto:?)\s*Getty Images|Getty Images[)\]]?\s*$",
)
_REFERENT = re.compile(
    r"(?:The former|The latter|The two|He|She|They|It|Its|His|Her|Their|This|That|These|Those"
    r"|Both|Such|But|And|However|Meanwhile|Also|Still|Yet|So)(?![\w-])"
)
_TIME_WORD = re.compile(
    r"(?:This|That|These)\s+(?:year|week|month|morning|afternoon|evening|weekend|season|time"
    r"|summer|winter|spring|fall|past)s?\b"
)


def _norm(text: str | None) -> str:
    """Whitespace collapsed to one space, stripped."""
    return _WS.sub(" ", text or "").strip()


def _title_key(text: str | None) -> str:
    """A title or sentence compared as a title: case-folded, trailing ellipsis and punctuation
    dropped."""
    t = _norm(text).casefold()
    return re.sub(r"(?:…|\.\.\.|[\s.!?:;,\-–—" + re.escape(_CLOSERS) + r"])+$", "", t)


def _is_truncated_title(title: str) -> bool:
    return bool(_TRUNCATED.search(title.strip()))


def is_headline(text: str, quotes: Sequence[str], titles: Sequence[str]) -> bool:
    """Whether ``text`` is one of ``titles`` (or the first three or more of its words, or the
    whole headline of which the title kept only the first words and "..."), or a quote equals
    a title."""
    s = _title_key(text)
    for title in titles:
        t = _title_key(title)
        if not t:
            continue
        if s == t or any(_title_key(q) == t for q in quotes):
            return True
        if t.startswith(s) and len(s.split()) >= 3 and (len(t) == len(s) or t[len(s)] == " "):
            return True
        if _is_truncated_title(title) and len(t.split()) >= 4 and s.startswith(t):
            return True
    return False


def is_label(text: str) -> bool:
    """Whether ``text`` opens on a short label and a colon (see the module's docstring): a
    colon within the first 5 words, after no lower-case reporting verb, followed by an upper-case
    letter, a digit or a quote; or a colon glued between word characters in the first 40
    characters. Times and verses (``10:30``) are not labels."""
    for m in re.finditer(":", text):
        before, after = text[: m.start()], text[m.end():]
        if before[-1:].isdigit() and after[:1].isdigit():
            continue
        words = before.split()
        if len(words) > 5:
            break
        if _inside_quote_or_brackets(before):
            continue
        if any(w.strip(",.;\"'“”‘’()") in _REPORTING for w in words):
            break
        if _LABEL_NEXT.match(after):
            return True
        break
    return any(not (m.group()[0].isdigit() and m.group()[-1].isdigit())
               for m in _GLUED_COLON.finditer(text[:40]))


def _inside_quote_or_brackets(before: str) -> bool:
    """Whether a colon after ``before`` is inside a quoted title or brackets ("“Taylor Swift:
    The Eras Tour” is …"), not after a label."""
    return (before.count("“") > before.count("”") or before.count('"') % 2 == 1
            or before.count("(") > before.count(")"))


def is_byline(text: str) -> bool:
    """Whether ``text`` is a byline (``By`` and a capitalised name, at most 12 words, its other
    words capitalised or byline words like "and", "staff") or a photo credit."""
    if _CREDIT.search(text):
        return True
    if not _BYLINE.match(text):
        return False
    words = [w.strip(",.;:|()") for w in text.split()[1:]]
    if len(words) > 11:
        return False
    return all(not w or not w[0].islower() or w in _BYLINE_WORDS for w in words)


def opens_on_referent(text: str) -> bool:
    """Whether ``text`` opens on a referent or a connective that needs the sentence before it;
    "This/That/These" before a time word ("This year") does not."""
    t = text.lstrip()
    return bool(_REFERENT.match(t)) and not _TIME_WORD.match(t)


def text_faults(text: str, quotes: Sequence[str] = (), titles: Sequence[str] = ()) -> set[str]:
    """The faults ``text`` shows on its own: all but ``glued`` and ``dangling``."""
    t = text.strip()
    found = set()
    if is_headline(t, quotes, titles):
        found.add("headline")
    if _TRUNCATED.search(t):
        found.add("truncated")
    if is_label(t):
        found.add("label")
    if is_byline(t):
        found.add("byline")
    if not _ENDS.search(t):
        found.add("no_end")
    if _QUESTION.search(t):
        found.add("question")
    return found


def _pieces(quote: str) -> list[str]:
    """A quote's verbatim pieces (a citation joins several with " … ")."""
    return [p for p in (_norm(x) for x in quote.split(" … ")) if p]


def is_glued(quote: str, article_text: str) -> bool:
    """Whether a piece of ``quote`` is in the article's text with its lines joined by spaces
    but inside no single line of it."""
    lines = [_norm(line) for line in article_text.split("\n")]
    lines = [line for line in lines if line]
    joined = " ".join(lines)
    return any(p in joined and not any(p in line for line in lines) for p in _pieces(quote))


def _loose(text: str) -> str:
    """A regex matching ``text`` with any run of whitespace in place of each of its own."""
    return r"\s+".join(re.escape(w) for w in text.split())


def follows(prev_quote: str, quote: str, article_text: str) -> bool:
    """Whether ``quote`` comes right after ``prev_quote`` in the article (only whitespace, line
    breaks included, between them)."""
    prev, cur = _norm(prev_quote).split(" … ")[-1], _norm(quote).split(" … ")[0]
    if not prev or not cur:
        return False
    return re.search(_loose(prev) + r"\s*" + _loose(cur), article_text) is not None


def _quotes(segment: Mapping[str, Any]) -> list[tuple[int | None, str]]:
    """(citation number, quote) pairs of a segment; its text where it has no quote."""
    cites = list(segment.get("citations") or [])
    quotes = list(segment.get("quotes") or [])
    text = str(segment.get("text") or "")
    if not cites:
        return [(None, text)]
    return [(n, quotes[i] if i < len(quotes) and quotes[i] else text)
            for i, n in enumerate(cites)]


def sentence_faults(
    segments: Sequence[Mapping[str, Any]],
    citations: Sequence[Mapping[str, Any]],
    articles: Mapping[str, Mapping[str, Any]],
) -> list[list[str]]:
    """The faults of each segment of one answer, in :data:`FAULTS` order (empty: clean).

    ``segments`` and ``citations`` are as in the service's JSON; ``articles`` maps a URL to the
    original article's ``title`` and ``text``. A segment whose articles are unknown (or that
    cites nothing) is judged on its text (and its citations' titles) only: ``glued`` needs the
    article's lines, and ``dangling`` is then given only to an answer's first sentence, since
    whether a later one follows its predecessor in the article cannot be checked.
    """
    by_n = {c.get("n"): c for c in citations}
    out: list[list[str]] = []
    prev: Mapping[str, Any] | None = None
    for seg in segments:
        text = str(seg.get("text") or "")
        pairs = _quotes(seg)
        arts = {}
        titles = []
        for n, _ in pairs:
            cite = by_n.get(n) or {}
            url = str(cite.get("url") or "")
            if cite.get("title"):
                titles.append(str(cite["title"]))
            if url in articles:
                arts[n] = articles[url]
                if articles[url].get("title"):
                    titles.append(str(articles[url]["title"]))
        quotes = [q for _, q in pairs]
        found = text_faults(text, quotes, titles)
        if any(is_glued(q, str(arts[n].get("text") or "")) for n, q in pairs if n in arts):
            found.add("glued")
        if opens_on_referent(text) and (prev is None or _detached(prev, seg, by_n, articles)):
            found.add("dangling")
        out.append([f for f in FAULTS if f in found])
        prev = seg
    return out


def _detached(
    prev: Mapping[str, Any], seg: Mapping[str, Any], by_n: Mapping[Any, Mapping[str, Any]],
    articles: Mapping[str, Mapping[str, Any]],
) -> bool:
    """Whether ``seg`` does not continue ``prev`` in any article they both quote (False, the
    benefit of the doubt, when none of ``seg``'s articles is known)."""
    prev_quotes = {(by_n.get(n) or {}).get("url"): q for n, q in _quotes(prev)}
    known = False
    for n, quote in _quotes(seg):
        url = str((by_n.get(n) or {}).get("url") or "")
        if url not in articles:
            continue
        known = True
        if url in prev_quotes and follows(prev_quotes[url], quote, str(articles[url]["text"])):
            return False
    return known


def fragment_share(
    rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]]
) -> dict[str, Any]:
    """Over the answers of ``rows`` that did not abstain: ``answers``, ``sentences``,
    ``faulty`` (sentences with any fault), ``share`` (faulty / sentences, None without
    sentences), ``faults`` (sentences by their primary fault, summing to ``faulty``), ``any``
    (sentences having each fault), ``dangling_first`` (answers whose first sentence dangles) and
    ``dangling_first_share`` (of those answers)."""
    answers = sentences = faulty = dangling_first = 0
    primary = dict.fromkeys(FAULTS, 0)
    anywhere = dict.fromkeys(FAULTS, 0)
    for row in rows:
        if row.get("abstained"):
            continue
        answers += 1
        faults = sentence_faults(row.get("segments") or [], row.get("citations") or [], articles)
        if faults and "dangling" in faults[0]:
            dangling_first += 1
        for f in faults:
            sentences += 1
            if f:
                faulty += 1
                primary[f[0]] += 1
            for name in f:
                anywhere[name] += 1
    return {
        "answers": answers,
        "sentences": sentences,
        "faulty": faulty,
        "share": faulty / sentences if sentences else None,
        "faults": primary,
        "any": anywhere,
        "dangling_first": dangling_first,
        "dangling_first_share": dangling_first / answers if answers else None,
    }


def examples(
    rows: Sequence[Mapping[str, Any]], articles: Mapping[str, Mapping[str, Any]], per_fault: int
) -> dict[str, list[tuple[str, str]]]:
    """Up to ``per_fault`` faulty sentences per primary fault: (question id, sentence text)."""
    out: dict[str, list[tuple[str, str]]] = {f: [] for f in FAULTS}
    for row in rows:
        if row.get("abstained"):
            continue
        segments = row.get("segments") or []
        faults = sentence_faults(segments, row.get("citations") or [], articles)
        for seg, f in zip(segments, faults, strict=True):
            if f and len(out[f[0]]) < per_fault:
                out[f[0]].append((str(row.get("id")), str(seg.get("text") or "")))
    return out


def table(named: Sequence[tuple[str, Mapping[str, Any]]]) -> str:
    """A markdown table: one row per ``(name, fragment_share result)``; the fault columns count
    sentences by their primary fault."""
    head = ["rows", "answers", "sentences", "faulty", "share", "dangling first", *FAULTS]
    lines = ["| " + " | ".join(head) + " |", "|---" + "|---:" * (len(head) - 1) + "|"]
    for name, s in named:
        share = "–" if s["share"] is None else f"{s['share']:.3f}"
        first = "–" if s["dangling_first_share"] is None else f"{s['dangling_first_share']:.3f}"
        cells = [name, str(s["answers"]), str(s["sentences"]), str(s["faulty"]), share, first]
        cells += [str(s["faults"][f]) for f in FAULTS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def load_articles(urls: set[str] | None = None) -> dict[str, dict[str, Any]]:
    """The 2023 archive's articles by URL (only ``urls`` when given)."""
    from bench.slice import read_archive  # the service's modules: only for the command line

    return {d["url"]: d for d in read_archive(urls)}


def main(argv: list[str] | None = None) -> int:
    """Score the answers of each rows file against the archive and print one table."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("rows", nargs="+", type=Path,
                    help='JSON files of {"rows": [...]} as bench/answer_quality.py writes them')
    ap.add_argument("--examples", type=int, default=0, metavar="N",
                    help="print N faulty sentences per fault")
    args = ap.parse_args(argv)
    loaded = [(p, json.loads(p.read_text(encoding="utf-8"))["rows"]) for p in args.rows]
    urls = {str(c.get("url")) for _, rows in loaded for r in rows
            for c in r.get("citations") or []}
    articles = load_articles(urls)
    named = [(p.name, fragment_share(rows, articles)) for p, rows in loaded]
    print(table(named))
    if args.examples:
        for p, rows in loaded:
            print(f"\n{p.name}: primary fault, question id, sentence")
            for fault, found in examples(rows, articles, args.examples).items():
                for qid, text in found:
                    print(f"  {fault:<10} {qid:<14} {_norm(text)[:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
