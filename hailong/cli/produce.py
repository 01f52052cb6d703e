"""Commands that produce events: ``hailong simulate``, ``kiosk``, ``gateway``, ``camera``."""

from __future__ import annotations

import argparse

from hailong.cli.common import Adder
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


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


def service_arguments(p: argparse.ArgumentParser, service: str) -> None:
    """--host, --port and --log-level of an HTTP service (defaults from its settings)."""
    p.add_argument("--host", help=f"listen address (default: the {service}_host setting)")
    p.add_argument("--port", type=int, help=f"listen port (default: the {service}_port setting)")
    p.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
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
    service_arguments(p, "gateway")
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
    service_arguments(p, "camera")
