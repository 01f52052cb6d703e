"""``hailong alerts``: list and act on alerts, run the engine, load the rule book and the
routing table (formats: streams/ALERTS.md)."""

from __future__ import annotations

import argparse

from hailong.cli.common import Adder, need
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


def cmd_alerts(settings: Settings, args: argparse.Namespace) -> None:
    import getpass
    import hashlib
    import json
    import os
    from datetime import datetime

    from pydantic import ValidationError

    from streams.alert_book import RuleBook
    from streams.alert_engine import AlertEngine, load_routes
    from streams.alert_notify import RoutingTable
    from warehouse.alerts import AlertError, act, current
    from warehouse.client import Warehouse

    now = SYSTEM.now()
    by = args.by or getpass.getuser()
    if args.action in ("rules", "routes"):
        if args.what not in ("load", "show"):
            raise HailongError(f"alerts {args.action}: say load FILE or show")
    with Warehouse(settings) as wh:
        if args.action == "list":
            rows = current(wh, open_only=not args.all)
            rows = [r for r in rows if not args.office or r.office_id == args.office]
            if args.json:
                print(
                    json.dumps(
                        [{**r._asdict(), "raised_at": r.raised_at.isoformat()} for r in rows],
                        ensure_ascii=False,
                        indent=1,
                    )
                )
                return
            print(f"{len(rows)} {'' if args.all else 'open '}alerts (oldest first):")
            for r in rows:
                numbers = ", ".join(f"{k} {v:.3g}" for k, v in sorted(r.numbers.items()))
                print(
                    f"  {r.alert_id} {r.office_id:<14} {r.rule:<24} {r.state:<12} raised "
                    f"{r.raised_at:%Y-%m-%d %H:00} UTC"
                    + (f", ack by {r.acknowledged_by}" if r.acknowledged_by else "")
                    + (f" ({r.comment})" if r.comment else "")
                    + f"\n      [{numbers}]"
                )
            return
        if args.action in ("ack", "resolve", "snooze"):
            kind = {"ack": "acknowledged", "resolve": "resolved", "snooze": "snoozed"}[args.action]
            until = None
            if args.until:
                try:
                    until = datetime.fromisoformat(args.until)
                except ValueError:
                    raise HailongError(f"--until: not an ISO 8601 time: {args.until!r}") from None
                if until.tzinfo is None:
                    raise HailongError("--until: give the offset too (e.g. +07:00)")
            try:
                row = act(wh, need(args.alert_id, "--alert-id"), kind, by, args.comment, now, until)
            except AlertError as exc:
                raise HailongError(str(exc)) from None
            print(
                f"alert {row.alert_id} ({row.office_id}, {row.rule}): {kind} by {by}; the "
                f"alert engine sends it within {settings.alert_interval_s:.0f} s"
            )
            return
        if args.action == "run":
            report = AlertEngine(settings, SYSTEM).run_once()
            print(report)
            raise SystemExit(1 if report.failed else 0)
        if args.action == "rules":
            if args.what == "show":
                print(AlertEngine.rulebook(wh).model_dump_json(indent=2))
                return
            body = open(need(args.file, "FILE"), "rb").read()
            try:
                book = RuleBook.model_validate_json(body)
                for office in book.offices:
                    book.for_office(office)
                for unit in book.units:
                    book.for_office("", unit)
            except (ValidationError, ValueError) as exc:
                raise HailongError(f"{args.file}: not a valid rule book:\n{exc}") from None
            text = book.model_dump_json()
            wh.insert(
                "alert_rulebooks",
                ("loaded_at", "loaded_by", "sha256", "body"),
                [(now, by, hashlib.sha256(text.encode()).hexdigest(), text)],
            )
            print(
                f"alerts: rule book loaded ({len(book.units)} unit and {len(book.offices)} "
                "office overrides); the engine uses it from its next run"
            )
            return
    # routes: a file with webhook secrets, kept where only the platform reads it
    path = settings.alert_routes_path
    if args.what == "show":
        table = load_routes(path)
        print(table.model_dump_json(indent=2))  # SecretStr prints as **********
        return
    body = open(need(args.file, "FILE"), "rb").read()
    try:
        table = RoutingTable.model_validate_json(body)
    except ValidationError as exc:
        raise HailongError(f"{args.file}: not a valid routing table:\n{exc}") from None
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(body)
    os.replace(tmp, path)
    print(f"alerts: {len(table.routes)} routes loaded into {path} (mode 0600)")


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
    p = add(
        "alerts",
        cmd_alerts,
        "alerts (issue 14): list them; acknowledge, resolve or snooze one; run the "
        "engine once; load or show the rule book and the routing table "
        "(formats: streams/ALERTS.md)",
    )
    p.add_argument("action", choices=["list", "ack", "resolve", "snooze", "run", "rules", "routes"])
    p.add_argument("what", nargs="?", help="rules, routes: load or show")
    p.add_argument("file", nargs="?", help="rules load, routes load: the JSON file")
    p.add_argument("--alert-id", help="ack, resolve, snooze: the alert")
    p.add_argument("--by", help="who acts or loads (default: your login name)")
    p.add_argument("--comment", default="", help="ack, resolve: what was done or found")
    p.add_argument("--until", help="snooze: no reminder before this time (ISO 8601 with offset)")
    p.add_argument("--all", action="store_true", help="list: resolved ones too")
    p.add_argument("--office", help="list: only this office's")
    p.add_argument("--json", action="store_true", help="list: as JSON")
