"""What the settings ask of the trained reader: the reader answers run (``reader`` section)
and the encoder the claim check of generated answers uses (``generation.claim_encoder``)."""

from __future__ import annotations

import logging
from pathlib import Path

from newsqa.query.claims import Encode
from newsqa.query.read import ReadConfig, Scorer
from newsqa.settings import Settings

log = logging.getLogger("newsqa")


def configured_reader(
    settings: Settings, vectors_model: str | None = None
) -> tuple[Scorer | None, ReadConfig]:
    """The reader ``settings`` ask for: the one in ``NEWSQA_READER__DIR``, else the package's
    (None when ``NEWSQA_READER__MODE=off``, or when neither exists, which is logged), and how
    answers use it. A ``query`` reader reads the index's sentence vectors, so it is refused
    (ReaderMissingError) for an index whose vectors another model made (``vectors_model``)."""
    rs = settings.reader
    read = ReadConfig(passages=rs.passages, rerank=rs.rerank)
    if rs.mode == "off":
        return None, read
    from newsqa.reader.runtime import load_reader, shipped

    if rs.dir is None and not shipped():
        log.info(
            "NEWSQA_READER__MODE=on but the package holds no reader: sentence scoring is used"
        )
        return None, read
    reader = load_reader(rs.dir)
    made_by = reader.info.raw.get("vectors_model")
    if reader.info.kind == "query" and made_by and vectors_model and made_by != vectors_model:
        from newsqa.reader.runtime import ReaderMissingError

        raise ReaderMissingError(
            f"the reader at {rs.dir or 'the package'} reads sentence vectors made by {made_by!r};"
            f" this index's are {vectors_model!r}: train it on this model's lists "
            "(newsqa train-reader) or set NEWSQA_READER__MODE=off")
    return reader, ReadConfig.recorded(reader.info, rs.passages, rs.abstain_below, rs.rerank)


def configured_claim_encode(settings: Settings) -> Encode | None:
    """What embeds sentences for the claim check of generated answers when
    ``generation.claim_encoder`` is ``reader``: the dual reader's encoder (that of
    ``NEWSQA_READER__DIR``, else the package's), in any reader mode. None, so the search
    embedder checks claims, when it is ``embedder`` or no dual reader is there, or it cannot
    be loaded (logged: answers may still run without it)."""
    if settings.generation.claim_encoder != "reader":
        return None
    from newsqa.reader.runtime import MODEL_DIR, ReaderMissingError, load_reader, read_info, shipped

    where = settings.reader.dir
    if where is None and not shipped():
        log.info("the package holds no reader: the search embedder checks generated claims")
        return None
    try:
        if not read_info(Path(where) if where else MODEL_DIR).embeds:
            log.info("the reader at %s is not a dual reader: the search embedder checks "
                     "generated claims", where or "the package")
            return None
        return load_reader(where).embed
    except ReaderMissingError as exc:
        log.warning("%s: the search embedder checks generated claims", exc)
        return None
