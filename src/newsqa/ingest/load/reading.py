"""Bounded reading of one file: whole files under a size limit, and ``.jsonl`` streams line by
line in fixed-size blocks, so hostile input never costs more memory than the limits allow."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from pathlib import Path
from typing import IO

from newsqa.ingest.clean import BinaryContentError, binary_reason, decode_text
from newsqa.ingest.load.base import FileProblem, LoadLimits

MAX_WHOLE_FILE_BYTES = 256 * 1024 * 1024
"""Whole-file formats (all but ``.jsonl``/``.jsonl.gz``) larger than this are refused."""

_BLOCK_BYTES = 1 << 20
_NOT_BLANK = re.compile(rb"[^ \t\r\n\f\v]")


def read_text(path: Path, limits: LoadLimits) -> str:
    """The whole file decoded, refusing binary content and files above the size limits."""
    return decode_text(read_bytes(path, limits))


def read_bytes(path: Path, limits: LoadLimits) -> bytes:
    """The whole file, refusing files above the size limits (never reading more)."""
    limit = min(limits.max_file_bytes, MAX_WHOLE_FILE_BYTES)
    blocks: list[bytes] = []
    size = 0
    with path.open("rb") as fh:  # block by block: read(limit) would reserve the whole limit
        while size <= limit and (block := fh.read(min(_BLOCK_BYTES, limit + 1 - size))):
            blocks.append(block)
            size += len(block)
    if size > limit:
        raise FileProblem(
            f"file is over the {limit:,}-byte limit for this format "
            "(split it, or use .jsonl/.jsonl.gz, which are streamed)"
        )
    return b"".join(blocks)


def read_lines(
    stream: IO[bytes] | gzip.GzipFile, limits: LoadLimits
) -> Iterator[tuple[int, bytes | None]]:
    """(line number, line) for each non-blank line of ``stream``, read in bounded blocks.

    A line longer than ``limits.max_line_bytes`` comes as ``(n, None)`` and its bytes are
    dropped as they arrive, so memory stays within one line limit and one block. Runs of blank
    lines are skipped at C speed. Raises ``FileProblem`` once more than ``max_file_bytes`` were
    read, and ``BinaryContentError`` when the stream starts with binary content.
    """
    n = 1  # number of the line that starts at ``pos`` / that ``pending`` belongs to
    pending: list[bytes] = []
    pending_len = 0
    dropping = False  # inside an over-long line, already reported
    total = 0
    read = getattr(stream, "read1", stream.read)  # a cut gzip stream still gives what it has
    while block := read(_BLOCK_BYTES):
        if total == 0 and (reason := binary_reason(block)):
            raise BinaryContentError(reason)
        total += len(block)
        if total > limits.max_file_bytes:
            raise FileProblem(
                f"stopped at line {n}: the file holds more than {limits.max_file_bytes:,} bytes "
                "(after decompression), the limit per file"
            )
        if not dropping and not pending_len and block.isspace():
            n += block.count(b"\n")  # a run of blank lines, skipped whole
            continue
        pos, size = 0, len(block)
        while pos < size:
            if not dropping and not pending_len:
                found = _NOT_BLANK.search(block, pos)
                start = size if found is None else found.start()
                n += block.count(b"\n", pos, start)
                pos = start
                if pos == size:
                    break
            end = block.find(b"\n", pos)
            stop = size if end < 0 else end
            if not dropping:
                if pending_len + stop - pos > limits.max_line_bytes:
                    yield n, None
                    pending, pending_len, dropping = [], 0, True
                else:
                    pending.append(block[pos:stop])
                    pending_len += stop - pos
            if end < 0:
                break
            if not dropping:
                yield n, b"".join(pending)
            pending, pending_len, dropping = [], 0, False
            n += 1
            pos = end + 1
    if pending_len and not dropping:
        yield n, b"".join(pending)
