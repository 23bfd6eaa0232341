"""Following news feeds: RSS 2.0, Atom and JSON Feed URLs polled into the archive.

:mod:`~newsqa.feeds.store` keeps the list and each feed's state, :mod:`~newsqa.feeds.fetch`
makes bounded HTTP requests (an absolute time limit, :mod:`~newsqa.feeds.net`; a size cap
counted while decoding, :mod:`~newsqa.feeds.decode`; redirects, a per-host rate limit,
robots.txt), :mod:`~newsqa.feeds.guard` keeps every request of every feed off this machine and
private networks (unless ``NEWSQA_FEEDS__ALLOW_HOSTS`` lists them),
:mod:`~newsqa.feeds.parse` reads the documents and :mod:`~newsqa.feeds.poll` polls them through
the service's ingest. ``newsqa follow``, ``newsqa feeds``, ``serve --follow`` and ``/api/feeds``
are the ways in.
"""

from newsqa.feeds.guard import FeedURLError, check_public, check_url
from newsqa.feeds.poll import Poller, PollResult
from newsqa.feeds.store import Feed, FeedStore

__all__ = [
    "Feed", "FeedStore", "FeedURLError", "PollResult", "Poller", "check_public", "check_url",
]
