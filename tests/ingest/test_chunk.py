"""Chunking: offline tokenizer, sentence boundaries, overlap, and the embedder's length limit."""

from __future__ import annotations

import pytest

from newsqa.embedding.factory import load_embedder
from newsqa.embedding.fake import HashEmbedder
from newsqa.ingest.chunk import (
    TITLE_CHARS,
    ChunkSpec,
    chunk_text,
    cl100k,
    embed_text,
    short_title,
)
from newsqa.text import split_sentences
from tests.support import ARCHIVE, archive_articles


def test_cl100k_loads_offline_with_the_real_vocabulary() -> None:
    enc = cl100k()
    # Known cl100k_base ids prove the vocabulary is tiktoken's (the loader also checks its hash).
    assert enc.encode("hello world") == [15339, 1917]
    assert enc.n_vocab == 100277


def test_split_sentences_keeps_abbreviations_together() -> None:
    text = "Mr. Smith went to Washington, D.C. on Monday. He met Sen. Jones at 9 a.m. Then he left!"
    assert split_sentences(text) == [
        "Mr. Smith went to Washington, D.C. on Monday.",
        "He met Sen. Jones at 9 a.m. Then he left!",
    ]
    assert split_sentences("One.\n\nTwo words here") == ["One.", "Two words here"]


def test_chunks_respect_size_sentences_and_overlap() -> None:
    sentences = [f"Sentence number {i} tells a small piece of the story." for i in range(60)]
    spec = ChunkSpec(tokens=60, overlap=15)
    chunks = chunk_text(" ".join(sentences), spec)
    enc = cl100k()
    assert [len(enc.encode_ordinary(c)) for c in chunks] == [60] * 14 + [48]
    assert [len(split_sentences(c)) for c in chunks] == [5] * 14 + [4]
    for c in chunks:
        assert c.endswith(".")  # cut at sentence ends, never mid-sentence
    # Overlap: each chunk starts with the last sentence of the previous one.
    for prev, nxt in zip(chunks, chunks[1:], strict=False):
        assert nxt.startswith(split_sentences(prev)[-1])
    joined = " ".join(chunks)
    assert all(s in joined for s in sentences)  # nothing is lost


def test_word_piece_guard_splits_chunks_the_embedder_would_truncate() -> None:
    emb = load_embedder()
    # Rare strings cost few cl100k tokens per character but many word pieces.
    nasty = " ".join(f"zq{i}xv{i * 7}kj" for i in range(400))
    title = "A very long headline " * 10
    unguarded = chunk_text(nasty, ChunkSpec(tokens=200, overlap=0), title)
    assert sum(emb.count_wordpieces(embed_text(title, c)) > 256 for c in unguarded) == 15
    chunks = chunk_text(nasty, ChunkSpec(tokens=200, overlap=0), title, emb.count_wordpieces)
    assert (len(unguarded), len(chunks)) == (16, 31)
    for c in chunks:
        assert emb.count_wordpieces(embed_text(title, c)) <= emb.max_seq_length == 256


@pytest.mark.slow
@pytest.mark.skipif(not ARCHIVE.exists(), reason="shared archive not present")
def test_no_chunk_exceeds_max_sequence_length_on_real_articles() -> None:
    emb = load_embedder()
    spec = ChunkSpec(tokens=160, overlap=40, max_wordpieces=emb.max_seq_length)
    n = 0
    for art in archive_articles(limit=300):
        for c in chunk_text(art["text"], spec, art["title"], emb.count_wordpieces):
            assert emb.count_wordpieces(embed_text(art["title"], c)) <= 256
            n += 1
    assert n > 1000


def test_a_long_unbroken_token_never_gives_an_over_long_chunk() -> None:
    """One 5,000-character "word" (cl100k packs it into few tokens, word pieces split every
    character): old code halved it once and emitted pieces of ~2,500 word pieces."""
    model = load_embedder()
    spec = ChunkSpec(tokens=180, overlap=20, max_wordpieces=256)
    title = "Markets close higher"
    for word in ("." * 5000, "-=" * 2500, "a.b," * 1250):
        text = f"Shares rose on Monday. {word} Trading ends."
        for count in (HashEmbedder().count_wordpieces, model.count_wordpieces):
            chunks = chunk_text(text, spec, title, count)
            assert max(count(embed_text(title, c)) for c in chunks) <= 256
            joined = "".join(chunks)
            assert sum(joined.count(ch) for ch in set(word)) >= len(word)  # nothing lost
            assert chunks[0].startswith("Shares rose")
            assert chunks[-1].endswith("Trading ends.")


def test_a_title_of_long_tokens_still_leaves_room_for_text() -> None:
    model = load_embedder()
    title = " ".join(["!!!!!!!!!!"] * 24)  # 240 word pieces before the title was capped
    short = short_title(title)
    assert len(short) <= TITLE_CHARS and short == " ".join(["!!!!!!!!!!"] * 14)
    for count in (HashEmbedder().count_wordpieces, model.count_wordpieces):
        chunks = chunk_text("A sentence about the harbour. " * 40, ChunkSpec(), title, count)
        assert chunks and max(count(embed_text(title, c)) for c in chunks) <= 256
    assert short_title("Ordinary headline about the harbour") == (
        "Ordinary headline about the harbour")
    accented = "é" * 100  # two characters each once decomposed
    assert short_title(accented) == "é" * 80


def test_sentence_spans_point_at_the_title_and_each_sentence_of_the_embedded_text() -> None:
    from newsqa.ingest.chunk import sentence_spans
    from newsqa.text import split_sentences

    chunk = "Ships sailed from Odesa. The deal was extended.\n\nPrices fell 3%."
    text = embed_text("Grain deal extended", chunk)
    spans = sentence_spans("Grain deal extended", chunk)
    assert [text[a:b] for a, b in spans] == ["Grain deal extended", *split_sentences(chunk)]
    assert sentence_spans("", chunk)[0] == (0, 0)
    assert [chunk[a:b] for a, b in sentence_spans("", chunk)[1:]] == split_sentences(chunk)


def test_a_line_of_the_article_opens_a_line_of_its_chunk() -> None:
    """A heading, a byline or a label line is never read as part of the next sentence."""
    text = ("Bridge collapses after ship strike\n\nBy Jane Doe\n\nA cargo ship hit the bridge at "
            "night. Six workers are missing.\n\nWhat happens next\n\nDivers resumed the search.")
    (chunk,) = chunk_text(text, ChunkSpec(tokens=200, overlap=0))
    assert chunk.split("\n") == [
        "Bridge collapses after ship strike", "By Jane Doe",
        "A cargo ship hit the bridge at night. Six workers are missing.", "What happens next",
        "Divers resumed the search."]
    assert split_sentences(chunk)[2:4] == ["A cargo ship hit the bridge at night.",
                                           "Six workers are missing."]


def test_a_chunk_split_to_fit_the_embedder_keeps_its_line_breaks() -> None:
    text = "\n".join(f"Heading {i}\nThe council met for the {i}th time on Monday."
                     for i in range(8))
    pieces = chunk_text(text, ChunkSpec(tokens=400, overlap=0, max_wordpieces=40), title="T",
                        count_wordpieces=lambda s: len(s.split()))
    assert len(pieces) > 1
    lines = [line for p in pieces for line in p.split("\n")]
    assert all(line.startswith(("Heading", "The council")) for line in lines)


def test_hard_wrapped_lines_are_one_sentence() -> None:
    text = ("PORT ELLISON, 3 March 2026 - The harbour town opened a floating library on a\n"
            "converted ferry on Tuesday. The library, named the Wavereader, holds 4,000 books and\n"
            "will moor at a different pier each week, the town council said.\n\nWhat comes next\n"
            "The council meets on Friday.")
    (chunk,) = chunk_text(text, ChunkSpec(tokens=200, overlap=0))
    sentences = split_sentences(chunk)
    assert ("The library, named the Wavereader, holds 4,000 books and will moor at a different "
            "pier each week, the town council said.") in sentences
    assert "What comes next" in sentences and "The council meets on Friday." in sentences
