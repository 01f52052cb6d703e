"""Commands of the stream worker and what it keeps: ``hailong stream`` (the faust
worker), ``reconcile`` (the hourly buckets against raw), ``quarantine`` (held events)."""

from __future__ import annotations

import argparse
import sys

from hailong.cli.common import Adder
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


def cmd_stream(settings: Settings, args: argparse.Namespace) -> None:
    from streams.app import app

    # --without-web: faust would serve its web UI on 0.0.0.0:6066, and a second worker on
    # the same machine would then fail with "address already in use".
    sys.argv = ["hailong stream", "worker", "--without-web", "-l", args.loglevel, *args.faust_args]
    app.main()


def cmd_reconcile(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import UTC, datetime, timedelta

    from warehouse.client import Warehouse
    from warehouse.reconcile import describe, reconcile, repair

    def when(text: str | None, default: datetime) -> datetime:
        if text is None:
            return default
        parsed = datetime.fromisoformat(text)
        return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)

    now = SYSTEM.now()  # the command line is where the system clock enters
    start = when(args.since, now - timedelta(hours=24))
    end = when(args.until, now + timedelta(hours=1))

    def progress(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    with Warehouse(settings) as wh:
        report = reconcile(wh, start, end, progress=progress)
        describe(report)
        if not report.clean and args.repair:
            repair(wh, report)
            report = reconcile(wh, start, end, progress=progress)
            print("after repair:")
            describe(report)
    if not report.clean:
        raise SystemExit(1)


def cmd_quarantine(settings: Settings, args: argparse.Namespace) -> None:
    import getpass
    import uuid

    from warehouse.client import Warehouse
    from warehouse.quarantine import held, release

    with Warehouse(settings) as wh:
        if args.action == "list":
            rows = held(wh, args.limit, released=args.released)
            state = "released" if args.released else "held"
            print(f"{len(rows)} {state} quarantined messages (newest first, at most {args.limit}):")
            for h in rows:
                print(
                    f"  {h.event_id} {h.channel:<6} {str(h.office_id)[:40]:<20} "
                    f"{h.at:%Y-%m-%d %H:%M:%S} held {h.quarantined_at:%Y-%m-%d %H:%M}: {h.reason}"
                    + (f" [released by {h.released_by}: {h.release_why}]" if h.released_by else "")
                )
            return
        if not args.event_id:
            raise HailongError("release: give the --event-id of each reviewed event")
        try:
            ids = [uuid.UUID(e) for e in args.event_id]
        except ValueError as exc:
            raise HailongError(f"release: {exc}: an --event-id is a UUID") from None
        done = release(wh, ids, args.by or getpass.getuser(), args.why, SYSTEM)
    for r in done:
        print(
            f"released {r.event_id} ({r.source_topic}[{r.partition}]@{r.offset}, "
            f"{r.office_id}): {r.outcome}"
        )


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
    p = add(
        "reconcile",
        cmd_reconcile,
        "recompute hourly buckets from raw and compare them "
        "with the streamed ones (exit 1 on a difference)",
    )
    p.add_argument(
        "--since", help="start, ISO 8601 (UTC unless an offset is given); default: 24 h ago"
    )
    p.add_argument("--until", help="end (exclusive); default: the end of the current hour")
    p.add_argument(
        "--repair",
        action="store_true",
        help="recompute differing buckets with the worker's SQL, then check again",
    )
    p = add("stream", cmd_stream, "run the stream worker (faust) in the foreground")
    p.add_argument("--loglevel", default="info")
    p.add_argument("faust_args", nargs=argparse.REMAINDER, help="passed on to `faust worker`")
    p = add(
        "quarantine",
        cmd_quarantine,
        "valid but implausible events (wrong key, clock ahead, too old, office not in "
        "the registry): list them, or release reviewed ones into counting (audited)",
    )
    p.add_argument("action", choices=["list", "release"])
    p.add_argument(
        "--event-id",
        action="append",
        default=[],
        help="release: an event to count (repeat the option for more)",
    )
    p.add_argument("--why", default="", help="release: why it may count (required; audited)")
    p.add_argument("--by", help="release: who reviewed it (default: your login name)")
    p.add_argument("--limit", type=int, default=100, help="list: at most this many")
    p.add_argument(
        "--released", action="store_true", help="list: the released ones, with who and why"
    )
