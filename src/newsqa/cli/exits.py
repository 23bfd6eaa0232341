"""The exit statuses of every command: one table, printed by ``newsqa --help``."""

from __future__ import annotations

import sys

from newsqa.index.errors import CatalogueUnavailableError, IndexBusyError, IndexMismatchError

EXIT_NOT_FOUND = 1  # delete: no such article
EXIT_INDEX = 2  # the index is missing or was built with another model or format
EXIT_SKIPPED = 3  # ingest: some inputs were reported and skipped
EXIT_BUSY = 4  # another ingest or delete is writing to the index; try again when it ends
EXIT_USAGE = 5  # the request cannot be served as asked (e.g. --generate without a model)
EXIT_STORAGE = 6  # the index directory cannot be created or written (permissions, read-only disk)
EXIT_UNAVAILABLE = 7  # the catalogue's server (NEWSQA_INDEX__CATALOG_URL) cannot be reached
EXIT_PORT = 8  # serve: the port is taken (or may not be listened on) at that host
EXIT_NO_LISTS = 2  # train-reader: the archives give no training or no dev questions
EXIT_INTERRUPTED = 130  # interrupted (Ctrl-C); ingest says what it saved, as the shell's 128+2

EXIT_HELP = (
    "exit status: 0 ok; 1 delete (feeds --remove) found no such article (feed); 2 the index "
    "is missing or was built "
    "with another model or format; 3 ingest skipped some inputs (each is reported); 4 the index "
    "is busy: another ingest or delete is writing to it (try again when it ends); 5 the request "
    "cannot be served as asked (--generate without NEWSQA_GENERATOR__URL, a bad feed URL); "
    "6 the index directory cannot be created or written (its owner or a read-only disk); "
    "7 the catalogue's PostgreSQL server cannot be reached; 8 serve cannot listen on the port "
    "(another program uses it: pick another with --port); 130 interrupted (Ctrl-C: ingest says "
    "what was saved, and running it again goes on); "
    "follow --once exits 3 when a feed or an item was reported"
)

#: What keeps a command from its index, each said in one ``error:`` line, and the status.
INDEX_PROBLEMS: dict[type[Exception], int] = {
    IndexMismatchError: EXIT_INDEX,
    FileNotFoundError: EXIT_INDEX,
    CatalogueUnavailableError: EXIT_UNAVAILABLE,
    IndexBusyError: EXIT_BUSY,
}
INDEX_ERRORS = tuple(INDEX_PROBLEMS)


def index_problem(exc: Exception) -> int:
    """Say ``exc`` (one of :data:`INDEX_ERRORS`) in one line on stderr; its exit status."""
    print(f"error: {exc}", file=sys.stderr)
    return next(status for kind, status in INDEX_PROBLEMS.items() if isinstance(exc, kind))
