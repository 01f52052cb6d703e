"""Commands of the local stack and the warehouse's set-up: ``hailong stack``, ``topics``,
``migrate``, ``registry``."""

from __future__ import annotations

import argparse

from hailong.cli.common import Adder
from hailong.clock import SYSTEM
from hailong.errors import HailongError
from hailong.settings import Settings


def cmd_stack(settings: Settings, args: argparse.Namespace) -> None:
    from infra.stack import Stack

    if args.cluster and not settings.cluster:
        settings = settings.model_copy(update={"cluster": True})
    stack = Stack(settings)
    if args.action == "status":
        for st in stack.status():
            state = "up" if st.running else "DOWN"
            print(f"{st.name:<20} {st.mode:<9} {state:<5} {st.detail}")
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
    from warehouse.registry import load_files, load_hanoi, versions

    with Warehouse(settings) as wh:
        if args.action == "show":
            rows = versions(wh)
            if not rows:
                print("registry: no version loaded (hailong registry load)")
            for v in rows:
                print(
                    f"version {v.version}: loaded {v.loaded_at:%Y-%m-%d %H:%M} UTC, {v.units} "
                    f"units, {v.offices} office intervals, {v.lineage} lineage rows ({v.source})"
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


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
    p = add("stack", cmd_stack, "manage the local Kafka + ClickHouse stack under .stack/")
    p.add_argument(
        "action",
        choices=["install", "start", "stop", "status", "reset"],
        help="install: fetch Kafka jars; start: start both, create topics (waits "
        "until they answer); stop; status (exit 1 if a service is down); "
        "reset: stop and wipe all data",
    )
    p.add_argument(
        "--cluster",
        action="store_true",
        help="the cluster profile (infra/cluster.py): 3 Kafka brokers, ZooKeeper, "
        "ClickHouse 2 shards x 2 replicas; the same as HAILONG_CLUSTER=1, which every "
        "other command run against that stack needs",
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
