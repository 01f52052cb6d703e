"""``hailong``: the command line for people. ``hailong --help`` lists the commands.

Commands import what they need when they run, so ``--help`` stays fast.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings, load_settings


def _dagster_home(settings: Settings) -> None:
    # Without DAGSTER_HOME Dagster keeps run history in a temp dir that vanishes.
    home = settings.stack_dir / "dagster"
    home.mkdir(parents=True, exist_ok=True)
    config = home / "dagster.yaml"
    if not config.exists():
        config.write_text("telemetry:\n  enabled: false\n")
    os.environ.setdefault("DAGSTER_HOME", str(home))


def cmd_stack(settings: Settings, args: argparse.Namespace) -> None:
    from infra.stack import Stack

    stack = Stack(settings)
    if args.action == "status":
        for st in stack.status():
            state = "up" if st.running else "DOWN"
            print(f"{st.name:<11} {st.mode:<9} {state:<5} {st.detail}")
        if not all(st.running for st in stack.status()):
            raise SystemExit(1)
        return
    getattr(stack, args.action)()


def cmd_topics(settings: Settings, args: argparse.Namespace) -> None:
    from infra.topics import ensure_topics

    ensure_topics(settings)


def cmd_migrate(settings: Settings, args: argparse.Namespace) -> None:
    from warehouse.migrate import prepare

    prepare(settings)


def cmd_registry(settings: Settings, args: argparse.Namespace) -> None:
    from pathlib import Path

    from warehouse.client import Warehouse
    from warehouse.registry import load_files, load_hanoi

    with Warehouse(settings) as wh:
        if args.action == "show":
            rows = wh.execute(
                "SELECT version, loaded_at, units, offices, lineage, source "
                "FROM registry_versions ORDER BY version"
            )
            if not rows:
                print("registry: no version loaded (hailong registry load)")
            for version, at, units, offices, lineage, source in rows:
                print(
                    f"version {version}: loaded {at:%Y-%m-%d %H:%M} UTC, {units} units, "
                    f"{offices} office intervals, {lineage} lineage rows ({source})"
                )
            return
        if args.units or args.offices:
            if not (args.units and args.offices):
                raise HailongError("registry load: give both --units and --offices")
            result = load_files(
                wh,
                Path(args.units),
                Path(args.offices),
                Path(args.lineage) if args.lineage else None,
                SYSTEM,
            )
        else:
            result = load_hanoi(wh)
    state = "new version" if result.created else "unchanged, still version"
    print(
        f"registry: {state} {result.version}: {result.units} units, {result.offices} "
        f"office intervals, {result.lineage} lineage rows"
    )


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


def cmd_stream(settings: Settings, args: argparse.Namespace) -> None:
    from streams.app import app

    # --without-web: faust would serve its web UI on 0.0.0.0:6066, and a second worker on
    # the same machine would then fail with "address already in use".
    sys.argv = ["hailong stream", "worker", "--without-web", "-l", args.loglevel, *args.faust_args]
    app.main()


def cmd_simulate(settings: Settings, args: argparse.Namespace) -> None:
    from datetime import datetime, timedelta

    from producers.simulator import (
        city_traffic,
        hanoi_offices,
        send,
        simulated_keyring,
        summary,
    )

    end = datetime.fromisoformat(args.until) if args.until else SYSTEM.now()
    if end.tzinfo is None:
        raise HailongError("--until needs an offset, e.g. 2026-11-24T17:00:00+07:00")
    offices = hanoi_offices(seed=args.seed)
    traffic = city_traffic(
        offices,
        args.per_office * len(offices),
        end - timedelta(days=args.days),
        end,
        seed=args.seed,
        invalid=args.invalid,
        resent=args.duplicates,
        reused_tokens=args.reused_tokens,
        misuse_bursts=args.misuse_bursts,
        late=args.late,
        skewed_devices=args.skewed_devices,
        skew_s=args.skew,
    )
    pace = f"{args.rate:g} events/s" if args.rate > 0 else "as fast as Kafka takes them"
    print(
        f"simulate: {traffic.messages()} messages from {len(offices)} offices over the "
        f"last {args.days:g} days, {pace}",
        flush=True,
    )
    keyring = simulated_keyring(settings, offices)  # the simulated devices sign
    report = send(
        settings, traffic, args.rate, progress=lambda m: print(m, flush=True), keyring=keyring
    )
    print(summary(traffic, report))


def cmd_kiosk(settings: Settings, args: argparse.Namespace) -> None:
    from producers.kiosk import run_cli

    run_cli(settings, args)


def cmd_gateway(settings: Settings, args: argparse.Namespace) -> None:
    from producers.gateway import run_cli

    run_cli(settings, args)


def cmd_camera(settings: Settings, args: argparse.Namespace) -> None:
    from producers.camera import run_cli

    run_cli(settings, args)


def rank_and_print(settings: Settings, period_key: str) -> None:
    """Materialize one month's ('YYYY-MM') or year's ('YYYY') ranking with Dagster (its
    checks first) and print it from ClickHouse."""
    _dagster_home(settings)
    from dagster import DagsterInstance

    from hailong.methodology import two_decimals
    from pipelines.assets import failed_checks, materialize_period
    from pipelines.ranking import Period, read_ranking
    from pipelines.resources import ClickHouseResource

    period = Period.parse(period_key)
    resource = ClickHouseResource(database=settings.clickhouse_database)
    result = materialize_period(period.key, resource, DagsterInstance.get())
    if not result.success:
        failed = failed_checks(result)
        why = "\n  ".join(failed) if failed else "see the Dagster run log above"
        raise HailongError(f"ranking of {period.key} not published:\n  {why}")
    with resource.warehouse() as wh:
        rows = read_ranking(wh, period)

    def num(x: Any) -> str:
        return "—" if x is None else f"{two_decimals(float(x))}"

    print(
        f"\nRanking {period.key} (OSI with 95% interval; rank with 95% interval; trend "
        "against the previous period; read from ClickHouse table rankings):"
    )
    print(
        f"  {'rank':>9} {'(95%)':>9}  {'OSI':>6} {'(95%)':>15} {'trend':>7} {'K_n':>5} "
        f"{'Q_n':>5}  unit"
    )
    for (
        group,
        rank,
        n_ranked,
        code,
        name,
        score,
        k_n,
        q_n,
        reason,
        s_lo,
        s_hi,
        r_lo,
        r_hi,
        trend,
    ) in rows:
        shown = f"{rank}/{n_ranked}" if rank is not None else "—"
        r_iv = f"{r_lo}-{r_hi}" if r_lo is not None else ""
        s_iv = f"{num(s_lo)}-{num(s_hi)}" if s_lo is not None else ""
        t = "" if trend is None else f"{'+' if num(trend)[0] != '-' else ''}{num(trend)}"
        note = f"  (not ranked: {reason})" if reason else ""
        print(
            f"  {shown:>9} {r_iv:>9}  {num(score):>6} {s_iv:>15} {t:>7} {k_n:>5} {q_n:>5}  "
            f"{name} [{group} {code}]{note}"
        )


def cmd_rank(settings: Settings, args: argparse.Namespace) -> None:
    if not args.stale:
        rank_and_print(settings, args.month or str(args.year))
    print_stale(settings)


def print_stale(settings: Settings) -> None:
    """Say which published rankings late events made stale (``stale_rankings``)."""
    from warehouse.client import Warehouse
    from warehouse.staleness import stale

    with Warehouse(settings) as wh:
        found = stale(wh)
    if not found:
        print("\nNo published ranking is stale.")
        return
    print(
        "\nStale published rankings (events counted since they were computed; "
        "re-run `hailong rank` for the period):"
    )
    for s in found:
        print(
            f"  {s.period:<8} published {s.published_at:%Y-%m-%d %H:%M:%S} UTC: "
            f"{s.late_events} late events of {s.offices} offices, landed "
            f"{s.first_late_at:%Y-%m-%d %H:%M} - {s.last_late_at:%Y-%m-%d %H:%M} UTC"
        )


def cmd_devices(settings: Settings, args: argparse.Namespace) -> None:
    import csv
    import getpass
    from datetime import datetime
    from pathlib import Path

    from warehouse import devices
    from warehouse.client import Warehouse

    by = args.by or getpass.getuser()

    def since(text: str | None) -> datetime | None:
        if not text:
            return None
        at = datetime.fromisoformat(text)
        if at.tzinfo is None:
            raise HailongError("--from needs an offset, e.g. 2026-11-01T00:00:00+07:00")
        return at

    def out_path(device_id: str) -> Path:
        if args.out and args.action != "register-csv":
            return Path(args.out)
        folder = Path(args.out_dir) if args.out_dir else settings.stack_dir / "devices"
        return folder / f"{device_id}.json"

    def save(new: devices.NewKey) -> None:
        from hailong.kafka import device_settings
        from infra.access import grant_device

        path = out_path(new.key.device_id)
        # A kiosk or gateway gets a Kafka account of its own (a new password on every
        # rotation), write-only on its topics; cameras and issuers speak HTTP only.
        account = grant_device(settings, new.key.device_id, new.key.kind, progress=lambda _m: None)
        hint: dict[str, Any] = {
            "topic_prefix": settings.topic_prefix,
            "kafka_bootstrap": settings.bootstrap_servers,
        }
        if account is not None:
            hint.update(device_settings(settings, *account))
        devices.write_config(path, devices.device_config(new, hint))
        print(
            f"{new.key.device_id}: key {new.key.key_id} ({new.key.kind}"
            f"{', office ' + new.key.office_id if new.key.office_id else ''}); its config, "
            f"with the private key, is in {path} (mode 0600): give it to the device, "
            "keep no other copy; the platform stores only the public key"
        )

    with Warehouse(settings) as wh:
        if args.action == "register":
            if not args.device or not args.kind:
                raise HailongError("devices register: give --device and --kind")
            save(
                devices.register(
                    wh,
                    args.device,
                    args.kind,
                    args.office or "",
                    valid_from=since(args.valid_from),
                    by=by,
                    why=args.why or "registered",
                    clock=SYSTEM,
                )
            )
        elif args.action == "register-csv":
            if not args.csv:
                raise HailongError("devices register-csv: give --csv FILE")
            with open(args.csv, encoding="utf-8") as f:
                rows = list(csv.DictReader(f))
            for n, row in enumerate(rows, start=2):
                if not row.get("device_id") or not row.get("kind"):
                    raise HailongError(f"{args.csv}, line {n}: device_id and kind are needed")
            for row in rows:
                save(
                    devices.register(
                        wh,
                        row["device_id"],
                        row["kind"],
                        row.get("office_id") or "",
                        valid_from=since(row.get("valid_from")),
                        by=by,
                        why=args.why or "registered",
                        clock=SYSTEM,
                    )
                )
        elif args.action == "rotate":
            save(
                devices.rotate(
                    wh,
                    _need(args.device, "--device"),
                    office_id=args.office,
                    by=by,
                    why=args.why or "rotated",
                    clock=SYSTEM,
                )
            )
        elif args.action == "revoke":
            from infra.access import revoke_device

            revoked = devices.revoke(
                wh, _need(args.device, "--device"), by=by, why=args.why or "", clock=SYSTEM
            )
            for k in revoked:
                print(f"{k.device_id}: key {k.key_id} revoked")
            # The registry first (nothing it signs counts from now), then its Kafka account.
            revoke_device(settings, revoked[-1].device_id, revoked[-1].kind)
            print(f"{revoked[-1].device_id}: Kafka account and ACLs deleted")
        elif args.action == "health":
            health = wh.execute(
                "SELECT device_id, kind, office_id, last_seen_us, skew_s, silent, "
                "silent_minutes FROM device_health WHERE %(o)s = '' OR office_id = %(o)s "
                "ORDER BY silent DESC, last_seen_us, device_id",
                {"o": args.office or ""},
            )
            flagged = sum(int(r[5]) for r in health)
            print(
                f"{len(health)} kiosks and cameras, {flagged} silent in office hours "
                f"(> {health[0][6] if health else '?'} minutes):"
            )
            for device, kind, office, seen, skew, silent, _ in health:
                when = _us_text(seen) if seen else "never"
                clock = f"clock {skew:+.0f} s" if seen else ""
                print(
                    f"  {'SILENT ' if silent else '       '}{device:<24} {kind:<7} "
                    f"{office:<16} last seen {when:<17} {clock}"
                )
        else:
            found = devices.keys(wh, args.device)
            if args.office:
                found = [k for k in found if k.office_id == args.office]
            if args.action == "show" and not found:
                raise HailongError(f"no device {args.device!r}")
            print(
                f"{'device':<24} {'key':>3} {'kind':<8} {'office':<16} {'valid from':<17} "
                f"{'valid to':<17} state"
            )
            for k in found:
                state = (
                    ("revoked " + _us_text(k.revoked_at_us))
                    if k.revoked_at_us
                    else (
                        "ended"
                        if k.valid_to_us and k.valid_to_us <= SYSTEM.now().timestamp() * 1e6
                        else "active"
                    )
                )
                print(
                    f"{k.device_id:<24} {k.key_id:>3} {k.kind:<8} {k.office_id or '(any)':<16} "
                    f"{_us_text(k.valid_from_us):<17} "
                    f"{_us_text(k.valid_to_us) if k.valid_to_us else '-':<17} {state}"
                )
                if args.action == "show":
                    print(f"  public key (Ed25519): {k.public_key.hex()}")


def cmd_audit(settings: Settings, args: argparse.Namespace) -> None:
    import re

    from warehouse.client import Warehouse
    from warehouse.evidence import verify_month

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month or ""):
        raise HailongError("audit verify: --month YYYY-MM")
    with Warehouse(settings) as wh:
        report = verify_month(wh, args.month)
    print(
        f"audit {report.month}: {report.checked} raw events checked: {report.verified} "
        f"verified against their device's signature, {report.released} released from the "
        f"quarantine by a person (see quarantine_releases), {len(report.failures)} failures"
    )
    for failure in report.failures:
        print(f"  FAILED {failure}")
    if report.failures:
        raise SystemExit(1)


def _need(value: str | None, option: str) -> str:
    if not value:
        raise HailongError(f"give {option}")
    return value


def _us_text(us: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(us / 1e6, UTC).strftime("%Y-%m-%d %H:%M")


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
            for event_id, channel, office, at, q_at, reason, by, why in rows:
                print(
                    f"  {event_id} {channel:<6} {str(office)[:40]:<20} {at:%Y-%m-%d %H:%M:%S} "
                    f"held {q_at:%Y-%m-%d %H:%M}: {reason}"
                    + (f" [released by {by}: {why}]" if by else "")
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


def cmd_alerts(settings: Settings, args: argparse.Namespace) -> None:
    import getpass
    import hashlib
    import json
    import os
    from datetime import datetime

    from pydantic import ValidationError

    from streams.alert_engine import AlertEngine, act, load_routes
    from streams.alert_life import AlertError
    from streams.alert_notify import RoutingTable
    from streams.alert_rules import RuleBook
    from warehouse.alerts import current
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
                row = act(
                    wh, _need(args.alert_id, "--alert-id"), kind, by, args.comment, now, until
                )
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
            body = open(_need(args.file, "FILE"), "rb").read()
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
    body = open(_need(args.file, "FILE"), "rb").read()
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


def cmd_web(settings: Settings, args: argparse.Namespace) -> None:
    import uvicorn

    from pipelines.web.app import create_app
    from warehouse.private import prepare_private

    prepare_private(settings)
    print(
        f"web: the dashboard at http://{args.host}:{args.port}/ (log in: `hailong users "
        "add`), the public portal at /public, the read API at /api/v1 "
        "(OpenAPI: /api/v1/openapi.json)"
    )
    uvicorn.run(create_app(settings, SYSTEM), host=args.host, port=args.port, log_level="warning")


def cmd_users(settings: Settings, args: argparse.Namespace) -> None:
    import getpass
    import sys as _sys

    from pipelines.web.auth import Account
    from pipelines.web.store import Accounts
    from warehouse.private import prepare_private

    prepare_private(settings)
    by = args.by or getpass.getuser()

    def password() -> str:
        if args.password_stdin:
            return _sys.stdin.readline().rstrip("\n")
        first = getpass.getpass("password (12 characters or more): ")
        if getpass.getpass("again: ") != first:
            raise HailongError("the two passwords differ")
        return first

    with Accounts(settings, SYSTEM) as accounts:
        if args.action == "add":
            account = Account(
                _need(args.name, "--name").lower(),
                _need(args.role, "--role"),
                args.scope or "",
                args.office or "",
                args.email or "",
            )
            accounts.add(account, password(), by)
            print(
                f"users: {account.name} added ({account.role}"
                + (f", scope {account.scope}" if account.scope else "")
                + ")"
            )
        elif args.action == "passwd":
            accounts.set_password(_need(args.name, "--name"), password(), by)
            print(f"users: new password for {args.name}; its sessions ended")
        elif args.action in ("disable", "enable"):
            accounts.set_disabled(_need(args.name, "--name"), args.action == "disable", by)
            print(f"users: {args.name} {args.action}d")
        elif args.action == "list":
            for a, disabled in accounts.all():
                print(
                    f"  {a.name:<24} {a.role:<7} {a.scope or '-':<20} {a.email or '-':<28}"
                    + (" disabled" if disabled else "")
                )
        elif args.action == "token":
            if args.revoke:
                print(f"users: {accounts.revoke_api_tokens(args.revoke)} tokens revoked")
                return
            token = accounts.new_api_token(_need(args.label, "--label"), args.unit or "", by)
            print(
                f"users: API token for {args.label} ({args.unit or 'the city'}), shown "
                f"once:\n{token}"
            )
        elif args.action == "tokens":
            for label, unit, creator, at, revoked in accounts.api_tokens():
                print(
                    f"  {label:<24} {unit or 'city':<10} by {creator} {at:%Y-%m-%d}"
                    + (" revoked" if revoked else "")
                )


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    from hailong.demo import run

    run(settings, args.per_office, args.seed)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="hailong",
        description="Hailong: real-time citizen satisfaction with public services. "
        "Settings come from HAILONG_* environment variables (hailong/settings.py).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(
        name: str, fn: Callable[[Settings, argparse.Namespace], None], help_: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_, description=help_)
        p.set_defaults(fn=fn)
        return p

    p = add("stack", cmd_stack, "manage the local Kafka + ClickHouse stack under .stack/")
    p.add_argument(
        "action",
        choices=["install", "start", "stop", "status", "reset"],
        help="install: fetch Kafka jars; start: start both, create topics (waits "
        "until they answer); stop; status (exit 1 if a service is down); "
        "reset: stop and wipe all data",
    )
    add("topics", cmd_topics, "create the contract's topics (partitions, retention) if missing")
    add("migrate", cmd_migrate, "create the database and apply pending schema migrations")
    p = add(
        "registry",
        cmd_registry,
        "load a city's units and offices (CSV files; Hanoi's "
        "built in by default) as a new registry version if "
        "changed, or show the versions",
    )
    p.add_argument("action", nargs="?", choices=["load", "show"], default="load")
    p.add_argument(
        "--units",
        help="units CSV: code,name,type,level,parent_code,valid_from,"
        "valid_to (warehouse/README.md); default: Hanoi's",
    )
    p.add_argument("--offices", help="offices CSV: office_id,name,unit_code,valid_from,valid_to")
    p.add_argument(
        "--lineage", help="optional lineage CSV: new_code,new_name,old_code,old_name,coverage"
    )
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
        "simulate",
        cmd_simulate,
        "publish simulated kiosk, QR and camera events for "
        "Hanoi's offices (126 communes/wards + departments), "
        "with optional fault injection",
    )
    p.add_argument("--per-office", type=int, default=50, help="events per office")
    p.add_argument("--days", type=float, default=7.0, help="spread over the last N days")
    p.add_argument(
        "--until",
        help="end of the simulated window, ISO 8601 with offset "
        "(default: now); with --seed, runs are reproducible",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=2025,
        help="the same seed (and --until) gives the same offices and events",
    )
    p.add_argument(
        "--rate",
        type=float,
        default=0.0,
        help="events per second (default 0: as fast as Kafka takes them)",
    )
    p.add_argument("--invalid", type=int, default=0, help="invalid events to inject")
    p.add_argument(
        "--duplicates",
        "--resent",
        type=int,
        default=0,
        help="events to send twice (same bytes, same event_id)",
    )
    p.add_argument(
        "--reused-tokens", type=int, default=0, help="QR submissions with an already used token"
    )
    p.add_argument(
        "--misuse-bursts", type=int, default=0, help="bursts of 5 presses 1-3 s apart on one kiosk"
    )
    p.add_argument(
        "--late",
        type=int,
        default=0,
        help="kiosk ratings delivered late, after later presses of their kiosk",
    )
    p.add_argument(
        "--skewed-devices", type=int, default=0, help="kiosks whose clock is off by --skew seconds"
    )
    p.add_argument("--skew", type=float, default=600.0, help="clock skew in seconds (+/-)")
    p = add(
        "kiosk",
        cmd_kiosk,
        "a rating device at a counter: store-and-forward client "
        "(presses from stdin, one value per line)",
    )
    p.add_argument(
        "--config",
        help="the device config of `hailong devices register` "
        "(its id, office and signing key): the ratings are signed",
    )
    p.add_argument("--office", help="office_id of the one-stop office (default: the config's)")
    p.add_argument("--device", help="device_id of this kiosk (default: the config's)")
    p.add_argument("--counter", help="counter_id (quầy)")
    p.add_argument("--staff", help="staff_id of the civil servant at the counter")
    p.add_argument("--scale", type=int, choices=[3, 4, 5], default=4, help="buttons")
    p.add_argument("--spool", help="spool file (default: <stack_dir>/kiosk/<device>.sqlite)")
    p.add_argument(
        "--status", action="store_true", help="print how many ratings wait in the spool, and exit"
    )
    p = add(
        "gateway",
        cmd_gateway,
        "the QR survey gateway: issues signed tokens, serves the "
        "survey page, publishes submissions (HTTP, OpenAPI at /docs)",
    )
    p.add_argument("--host", help="listen address (default: the gateway_host setting)")
    p.add_argument("--port", type=int, help="listen port (default: the gateway_port setting)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p.add_argument(
        "--forwarded-allow-ips",
        help="proxies whose X-Forwarded-For is trusted for the client address "
        "(rate limit); comma-separated (default: the gateway_trusted_proxies "
        "setting, empty: none, every client is its connecting address)",
    )
    p = add(
        "camera",
        cmd_camera,
        "the analytics-camera webhook adapter: maps observations to "
        "camera_observation/1, refuses anything outside the allowlist",
    )
    p.add_argument("--host", help="listen address (default: the camera_host setting)")
    p.add_argument("--port", type=int, help="listen port (default: the camera_port setting)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    p = add(
        "rank",
        cmd_rank,
        "compute and print a month's or a year's ranking (Dagster "
        "asset; replaces the period's rows), then the published "
        "rankings that late events made stale",
    )
    period = p.add_mutually_exclusive_group(required=True)
    period.add_argument("--month", help="YYYY-MM (Asia/Ho_Chi_Minh calendar)")
    period.add_argument("--year", type=int, help="YYYY")
    period.add_argument(
        "--stale",
        action="store_true",
        help="only list the published rankings that late events made stale",
    )
    p = add(
        "devices",
        cmd_devices,
        "the device registry: register kiosks, cameras, gateways and issuers (one, or a "
        "CSV), rotate their keys, revoke them, list and show them; health: when each "
        "kiosk and camera was last heard from, its clock, and the silent ones",
    )
    p.add_argument(
        "action", choices=["register", "register-csv", "rotate", "revoke", "list", "show", "health"]
    )
    p.add_argument(
        "--device",
        help="the device id (a kiosk's device_id, a camera's camera_id, a gateway's name)",
    )
    p.add_argument("--kind", choices=["kiosk", "camera", "gateway", "issuer"])
    p.add_argument(
        "--office",
        help="the office it is bound to (kiosk, camera); rotate: "
        "move it to another office; list: only this office's",
    )
    p.add_argument(
        "--from",
        dest="valid_from",
        help="register: the key signs events from this time (ISO 8601 with offset; default now)",
    )
    p.add_argument("--csv", help="register-csv: device_id,kind,office_id[,valid_from]")
    p.add_argument(
        "--out",
        help="register, rotate: the device config file to write "
        "(default <stack_dir>/devices/<device>.json)",
    )
    p.add_argument("--out-dir", help="register-csv: where the config files go")
    p.add_argument("--why", help="why (revoke: required; audited)")
    p.add_argument("--by", help="who does it (default: your login name)")
    p = add(
        "audit",
        cmd_audit,
        "re-verify every raw event of a month against the value "
        "its device signed (exit 1 on any failure, each named)",
    )
    p.add_argument("action", choices=["verify"])
    p.add_argument("--month", required=True, help="YYYY-MM (Asia/Ho_Chi_Minh calendar)")
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
    p = add(
        "web",
        cmd_web,
        "the dashboard, the public portal and the read API "
        "(pipelines/web/; accounts: `hailong users`)",
    )
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=18800)
    p = add(
        "users",
        cmd_users,
        "the dashboard's accounts (roles city, unit, office, staff, viewer) and the read "
        "API's tokens: add, passwd, disable, enable, list; token --label L [--unit U] "
        "(shown once) or token --revoke L; tokens",
    )
    p.add_argument(
        "action", choices=["add", "passwd", "disable", "enable", "list", "token", "tokens"]
    )
    p.add_argument("--name", help="the account (lower case)")
    p.add_argument("--role", choices=["city", "unit", "office", "staff", "viewer"])
    p.add_argument(
        "--scope",
        help="unit: a unit code; office: an office id; staff: a staff "
        "id; viewer: unit:<code>, office:<id> or none (the city)",
    )
    p.add_argument("--office", help="staff: the office they work at")
    p.add_argument("--email", help="where the unit's monthly report goes (unit accounts)")
    p.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input (scripts) instead of asking",
    )
    p.add_argument("--label", help="token: who uses it")
    p.add_argument("--unit", help="token: the unit it may read (default: the city)")
    p.add_argument("--revoke", metavar="LABEL", help="token: revoke every token of a label")
    p.add_argument("--by", help="who does it (default: your login name)")
    p = add(
        "demo",
        cmd_demo,
        "the main job end to end: stack, simulated events, live index, "
        "ranking of the current month",
    )
    p.add_argument("--per-office", type=int, default=100, help="events per office (all channels)")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="seed of the simulated events (default: new events every run)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    import signal

    # `hailong devices list | head`: a closed pipe ends the command quietly.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = build_parser().parse_args(argv)
    try:
        args.fn(load_settings(), args)
    except HailongError as exc:
        print(f"hailong: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    except KeyboardInterrupt:
        raise SystemExit(130) from None


if __name__ == "__main__":
    main()
