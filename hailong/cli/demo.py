"""``hailong demo``: the main job end to end, on the real stack.

Starts the stack, prepares the warehouse, starts a stream worker, publishes simulated
kiosk ratings, QR surveys and camera observations for Hanoi's 126 communes/wards over
the current month (plus resent duplicates, reused QR tokens and invalid events), waits
until ClickHouse holds every valid event, then prints each office's live index and
the month's ranking, both read from ClickHouse.
"""

from __future__ import annotations

import argparse
import secrets
import subprocess
import time
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING

from hailong.cli.common import Adder
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.methodology import LOCAL_TZ, two_decimals
from hailong.settings import Settings

if TYPE_CHECKING:
    from warehouse.client import Warehouse


def prepare_warehouse(settings: Settings) -> None:
    """Database, schema and the Hanoi registry (all idempotent)."""
    from warehouse.client import Warehouse
    from warehouse.migrate import prepare
    from warehouse.registry import load_hanoi

    prepare(settings)
    with Warehouse(settings) as wh:
        result = load_hanoi(wh)
        print(
            f"registry version {result.version}: {result.units} units, {result.offices} "
            f"office intervals, {result.lineage} lineage rows"
        )


def landed_events(wh: Warehouse) -> int:
    """Distinct events in the raw tables."""
    from warehouse.channels import landed

    return sum(landed(wh).values())


def bucketed_events(wh: Warehouse) -> int:
    """Events in the hourly buckets: each landed event is in exactly one."""
    from warehouse.channels import bucketed

    return sum(bucketed(wh).values())


def wait_for_rows(
    wh: Warehouse,
    expected: int,
    before: tuple[int, int],
    worker: subprocess.Popen[bytes],
    log_path: Path,
    timeout_s: float = 180.0,
) -> None:
    """Wait until raw and the hourly buckets each hold ``expected`` more events."""
    deadline = time.monotonic() + timeout_s
    shown = None
    while True:
        raw = landed_events(wh) - before[0]
        bucketed = bucketed_events(wh) - before[1]
        if (raw, bucketed) != shown:
            print(
                f"  landed in ClickHouse: {raw}/{expected} raw, {bucketed}/{expected} in "
                "hourly buckets",
                flush=True,
            )
            shown = (raw, bucketed)
        if raw >= expected and bucketed >= expected:
            return
        if worker.poll() is not None:
            raise HailongError(f"the stream worker exited ({worker.returncode}); see {log_path}")
        if time.monotonic() > deadline:
            raise HailongError(
                f"only {raw} raw / {bucketed} bucketed of {expected} events "
                f"landed in {timeout_s:.0f} s; see {log_path}"
            )
        time.sleep(1)


def print_live_index(wh: Warehouse) -> None:
    """Each office's 30-day index, read from the view city IT uses."""
    rows = wh.execute(
        "SELECT v.office_id, k_n, q_n, c_n, s_kiosk, s_qr, s_camera, osi, name "
        "FROM office_index_current AS v ANY LEFT JOIN "
        "(SELECT office_id, name FROM offices WHERE valid_to IS NULL) AS o USING (office_id) "
        "WHERE window = '30d' AND v.office_id IN "
        "(SELECT office_id FROM offices WHERE valid_to IS NULL) ORDER BY office_id"
    )

    def show(x: float | None) -> str:
        return "—" if x is None else f"{two_decimals(x)}"

    print(
        f"\nLive index per office, last 30 days (view office_index_current, {len(rows)} offices):"
    )
    print(
        f"  {'office':<10} {'K_n':>4} {'Q_n':>4} {'C_n':>4} {'S_kiosk':>8} {'S_qr':>7} "
        f"{'S_camera':>8} {'OSI':>7}  name"
    )
    for office_id, k_n, q_n, c_n, s_k, s_q, s_c, osi, name in rows:
        print(
            f"  {office_id:<10} {k_n:>4} {q_n:>4} {c_n:>4} {show(s_k):>8} {show(s_q):>7} "
            f"{show(s_c):>8} {show(osi):>7}  {name}"
        )


def print_alerts(settings: Settings) -> None:
    """One run of the alert engine (what the worker does on its timer, and `hailong
    alerts run`), then the open alerts by rule."""
    from streams.alert_engine import AlertEngine
    from warehouse.alerts import current
    from warehouse.client import Warehouse

    print(f"\n{AlertEngine(settings, SYSTEM).run_once()}")
    with Warehouse(settings) as wh:
        open_alerts = current(wh)
    by_rule: dict[str, int] = {}
    for a in open_alerts:
        rule = a.rule.split("/", 1)[0]
        by_rule[rule] = by_rule.get(rule, 0) + 1
    print(
        f"{len(open_alerts)} open alerts"
        + (": " + ", ".join(f"{n} {r}" for r, n in sorted(by_rule.items())) if by_rule else "")
        + " (`hailong alerts list`; streams/ALERTS.md)"
    )


def print_dashboard(settings: Settings) -> None:
    """Where to look: the dashboard, with a first city account when there is none (its
    password shown once, here)."""
    import secrets as _secrets

    from pipelines.web.auth import Account
    from pipelines.web.store import Accounts
    from warehouse.private import prepare_private

    prepare_private(settings)
    with Accounts(settings, SYSTEM) as accounts:
        first = not accounts.all()
        if first:
            password = _secrets.token_urlsafe(12)
            accounts.add(Account("demo.city", "city"), password, "hailong demo")
    print(
        "\nThe dashboard: .venv/bin/hailong web, then http://127.0.0.1:18800/ "
        "(public portal: /public; read API: /api/v1/docs)"
    )
    if first:
        print(
            f"  log in as demo.city with password {password} (shown once; "
            "`hailong users passwd --name demo.city` to change it)"
        )
    else:
        print("  log in with an account of `hailong users list`")


def run(settings: Settings, per_office: int, seed: int | None) -> None:
    from hailong.cli.rank import rank_and_print  # the same code path as `hailong rank`
    from infra.stack import Stack
    from infra.worker import start_worker, stop_worker
    from producers.simulator import city_traffic, hanoi_offices, send, simulated_keyring
    from warehouse.client import Warehouse

    Stack(settings).start()
    prepare_warehouse(settings)
    now = SYSTEM.now()
    local_now = now.astimezone(LOCAL_TZ)
    month_start = local_now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    log_path = settings.stack_dir / "logs" / "worker.log"
    worker = start_worker(settings, log_path)
    try:
        with Warehouse(settings) as wh:
            before = (landed_events(wh), bucketed_events(wh))
            offices = hanoi_offices()
            # New event ids every run unless a seed is given: re-sending the same ids
            # would (rightly) count zero times.
            traffic = city_traffic(
                offices,
                per_office * len(offices),
                month_start.astimezone(UTC),
                now,
                seed=seed if seed is not None else secrets.randbits(64),
                invalid=3,
                resent=10,
                reused_tokens=5,
            )
            print(
                f"publishing {len(traffic.events)} events (kiosk, QR, camera) from "
                f"{len(offices)} offices ({month_start:%Y-%m-%d} .. now), plus "
                f"{len(traffic.resent)} resent duplicates, {len(traffic.reused_tokens)} "
                f"reused QR tokens and {len(traffic.invalid)} invalid events"
            )
            send(settings, traffic, keyring=simulated_keyring(settings, offices))
            events = traffic.events + traffic.reused_tokens
            wait_for_rows(wh, len({e.event_id for e in events}), before, worker, log_path)
            print_live_index(wh)
        rank_and_print(settings, f"{local_now:%Y-%m}")
        print_alerts(settings)
        print_dashboard(settings)
        print(
            f"\nThe invalid events are in topic {settings.topics.deadletter} with their "
            f"reasons; worker log: {log_path}"
        )
    finally:
        stop_worker(worker)


def cmd_demo(settings: Settings, args: argparse.Namespace) -> None:
    run(settings, args.per_office, args.seed)


def register(add: Adder) -> None:
    """Add ``hailong demo`` to the parser."""
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
