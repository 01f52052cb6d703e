"""``hailong devices`` (the device registry: keys, Kafka accounts, health) and ``hailong
audit`` (every raw event against what its device signed)."""

from __future__ import annotations

import argparse
from typing import Any

from hailong.cli.common import Adder, need, us_text
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


def cmd_devices(settings: Settings, args: argparse.Namespace) -> None:
    import csv
    import getpass
    from datetime import datetime
    from pathlib import Path

    from warehouse import device_health, devices
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
                    need(args.device, "--device"),
                    office_id=args.office,
                    by=by,
                    why=args.why or "rotated",
                    clock=SYSTEM,
                )
            )
        elif args.action == "revoke":
            from infra.access import revoke_device

            revoked = devices.revoke(
                wh, need(args.device, "--device"), by=by, why=args.why or "", clock=SYSTEM
            )
            for k in revoked:
                print(f"{k.device_id}: key {k.key_id} revoked")
            # The registry first (nothing it signs counts from now), then its Kafka account.
            revoke_device(settings, revoked[-1].device_id, revoked[-1].kind)
            print(f"{revoked[-1].device_id}: Kafka account and ACLs deleted")
        elif args.action == "health":
            seen = device_health.health(wh, args.office or "")
            flagged = sum(r.silent for r in seen)
            print(
                f"{len(seen)} kiosks and cameras, {flagged} silent in office hours "
                f"(> {seen[0].silent_minutes if seen else '?'} minutes):"
            )
            for r in seen:
                when = us_text(r.last_seen_us) if r.last_seen_us else "never"
                clock = f"clock {r.skew_s:+.0f} s" if r.last_seen_us else ""
                print(
                    f"  {'SILENT ' if r.silent else '       '}{r.device_id:<24} {r.kind:<7} "
                    f"{r.office_id:<16} last seen {when:<17} {clock}"
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
                    ("revoked " + us_text(k.revoked_at_us))
                    if k.revoked_at_us
                    else (
                        "ended"
                        if k.valid_to_us and k.valid_to_us <= SYSTEM.now().timestamp() * 1e6
                        else "active"
                    )
                )
                print(
                    f"{k.device_id:<24} {k.key_id:>3} {k.kind:<8} {k.office_id or '(any)':<16} "
                    f"{us_text(k.valid_from_us):<17} "
                    f"{us_text(k.valid_to_us) if k.valid_to_us else '-':<17} {state}"
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


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
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
