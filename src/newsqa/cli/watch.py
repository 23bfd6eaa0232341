"""``newsqa watch``: watched questions from the command line (``add``, ``list``, ``show``,
``rm``, ``check``). The CLI's watches belong to the owner ``local`` (a server without an API
key shows them to a client that sends no client id); ``--owner`` names another."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from newsqa.cli.args import iso_date
from newsqa.cli.exits import EXIT_NOT_FOUND, EXIT_USAGE
from newsqa.feeds.guard import FeedURLError
from newsqa.records import Filters
from newsqa.watch.deliver import check_webhook, deliver_due
from newsqa.watch.records import Notice, Watch, iso
from newsqa.watch.watches import WatchLimitError


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    """``watch`` and its actions."""
    p = sub.add_parser(
        "watch", parents=[common], help="watch a question: it is answered again as news arrives",
        description="A watched question is answered now and again whenever the archive "
        "changes in a way that could change its answer (an ingest, an upload, a feed poll, a "
        "delete). A notice is recorded when the new answer cites articles it did not cite "
        "before, answers where it could not, or loses an article it cited; `watch show` lists "
        "them, a server streams them (/api/watches/events), serves each watch's Atom feed and "
        "posts them to the watch's webhook.",
    )
    acts = p.add_subparsers(dest="action", required=True, metavar="ACTION")
    a = acts.add_parser("add", help="watch a question", parents=[common])
    a.add_argument("question")
    a.add_argument("--since", type=iso_date, help="only articles published on or after this date")
    a.add_argument("--until", type=iso_date, help="only articles published on or before this date")
    a.add_argument("--source", action="append", dest="sources", metavar="OUTLET",
                   help="only this outlet (domain); repeat for several")
    a.add_argument("--webhook", metavar="URL",
                   help="POST each notice here as JSON (a private address needs "
                   "NEWSQA_WATCH__WEBHOOK_ALLOW_HOSTS)")
    for name, text in (("list", "the watches and their unread notices"),
                       ("show", "a watch's answer and notices, newest first"),
                       ("rm", "stop watching"),
                       ("check", "ask again the watches that changes since their last check "
                        "concern, and post due webhooks")):
        q = acts.add_parser(name, help=text, parents=[common])
        if name in ("show", "rm"):
            q.add_argument("id", help="the watch's id (as `watch list` shows it)")
        if name == "show":
            q.add_argument("--read", action="store_true", help="mark its notices read")
    for q in acts.choices.values():
        q.add_argument("--owner", default="local", help="whose watches (default: local)")
        q.add_argument("--json", action="store_true", help="print JSON instead of text")


def _print_notice(n: Notice) -> None:
    mark = "" if n.read else " (unread)"
    print(f"  #{n.seq} {iso(n.created_at)} {n.kind}{mark}")
    print(f"     {n.text}")
    for c in n.citations:
        where = ", ".join(x for x in (c.source, c.published_at) if x)
        print(f"     [{c.n}] {c.title} — {where}")
        if c.url:
            print(f"         {c.url}")


def _print_watch(w: Watch) -> None:
    unread = f", {w.unread} unread" if w.unread else ""
    state = "answered" if w.shown and not w.shown.abstained else "no answer yet"
    print(f"{w.id}  {w.question}")
    print(f"    {state}; {w.notices} notices{unread}; since {iso(w.created_at)}"
          + (f"; webhook {w.webhook}" if w.webhook else ""))


def run(args: argparse.Namespace, service: Any) -> int:
    """Run ``watch <action>``."""
    watches = service.watches
    if args.action == "add":
        webhook = args.webhook
        if webhook:
            try:
                webhook = check_webhook(webhook, service.settings.watch.webhook_allow_hosts)
            except FeedURLError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_USAGE
        try:
            w = watches.add(args.question, Filters(since=args.since, until=args.until,
                                                   sources=args.sources), args.owner, webhook)
        except WatchLimitError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if args.json:
            print(json.dumps(w.to_dict(answer=True), indent=2, ensure_ascii=False))
        else:
            _print_watch(w)
            if w.shown and not w.shown.abstained:
                print(f"    now: {w.shown.answer['answer']}")
        return 0
    if args.action == "list":
        found = watches.all(args.owner)
        if args.json:
            print(json.dumps({"watches": [w.to_dict() for w in found]}, indent=2,
                             ensure_ascii=False))
        for w in [] if args.json else found:
            _print_watch(w)
        return 0
    if args.action == "check":
        notices = watches.check()
        posted = deliver_due(service)
        if args.json:
            print(json.dumps({"notices": [n.to_dict() for n in notices], "delivered": posted},
                             indent=2, ensure_ascii=False))
        else:
            print(f"{len(notices)} new notices; {posted} webhook deliveries made")
        return 0
    w = watches.get(args.id, args.owner)
    if w is None:
        print(f"error: no watch {args.id!r} of {args.owner}", file=sys.stderr)
        return EXIT_NOT_FOUND
    if args.action == "rm":
        watches.remove(args.id, args.owner)
        print(f"removed {args.id}") if not args.json else print(json.dumps({"removed": args.id}))
        return 0
    notices = watches.notices(w.id)
    if args.read:
        watches.mark_read(w.id, args.owner)
    if args.json:
        print(json.dumps(dict(w.to_dict(answer=True), notices=[n.to_dict() for n in notices]),
                         indent=2, ensure_ascii=False))
        return 0
    _print_watch(w)
    print(f"    answer shown: {w.shown.answer['answer'] if w.shown else '(none)'}")
    for n in notices:
        _print_notice(n)
    return 0
