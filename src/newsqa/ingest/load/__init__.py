"""Read news articles from files and folders in several formats.

``iter_articles`` walks the given paths and yields an ``Article`` for each readable article and a
``LoadProblem`` for each file or line that cannot be read; it never raises for bad input.

Formats, chosen by suffix (case-insensitive):

* ``.txt`` / ``.md``: optional ``key: value`` header lines, then the text (see ``parse_text_file``);
* ``.html`` / ``.htm``: main text and metadata extracted with trafilatura;
* ``.json``: an object, a list of objects, or an object with an articles/items/data list;
* ``.jsonl`` / ``.jsonl.gz``: one object per line, streamed;
* ``.xml`` / ``.rss`` / ``.atom``: RSS or Atom feeds, one article per entry.

Hostile input is bounded (:class:`LoadLimits`): binary content is reported as "binary file", a
file stops being read past ``max_file_bytes`` (counted after decompression, while streaming) and a
line over ``max_line_bytes`` is reported without being held in memory. Something wrong that does
not cost the article (an unreadable date, text cut to ``max_article_bytes``) is a ``LoadWarning``
yielded before the article.

The package, by concern: ``base`` (suffixes, limits, result types), ``reading`` (bounded file
and line reading), ``article`` (the one article builder), one module per format (``text``,
``html_pages``, ``records``, ``feeds``) and ``walk`` (the entry point and problem reporting).
The names below are re-exported so that ``from newsqa.ingest.load import ...`` keeps working.
"""

from newsqa.ingest.load.article import TITLE_WORDS, build_article
from newsqa.ingest.load.base import SUPPORTED_SUFFIXES, Fields, LoadLimits, Result
from newsqa.ingest.load.feeds import feed_entry_fields
from newsqa.ingest.load.html_pages import MAX_HTML_DEPTH, html_fields
from newsqa.ingest.load.reading import MAX_WHOLE_FILE_BYTES
from newsqa.ingest.load.records import fields_from_record
from newsqa.ingest.load.text import parse_text_file
from newsqa.ingest.load.walk import iter_articles

__all__ = [
    "MAX_HTML_DEPTH",
    "MAX_WHOLE_FILE_BYTES",
    "SUPPORTED_SUFFIXES",
    "TITLE_WORDS",
    "Fields",
    "LoadLimits",
    "Result",
    "build_article",
    "feed_entry_fields",
    "fields_from_record",
    "html_fields",
    "iter_articles",
    "parse_text_file",
]
