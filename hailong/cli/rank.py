"""``hailong rank``: a period's ranking materialized with Dagster and printed; the
published rankings late events made stale."""

from __future__ import annotations

import argparse
from typing import Any

from hailong.cli.common import Adder, dagster_home
from hailong.errors import HailongError
from hailong.settings import Settings


def rank_and_print(settings: Settings, period_key: str) -> None:
    """Materialize one month's ('YYYY-MM') or year's ('YYYY') ranking with Dagster (its
    checks first) and print it from ClickHouse."""
    dagster_home(settings)
    from dagster import DagsterInstance

    from hailong.methodology import two_decimals
    from pipelines.assets import failed_checks, materialize_period
    from pipelines.ranking import Period
    from pipelines.ranking_store import read_ranking
    from pipelines.resources import ClickHouseResource

    period = Period.parse(period_key)
    resource = ClickHouseResource.from_settings(settings)
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
    for r in rows:
        shown = f"{r.rank}/{r.n_ranked}" if r.rank is not None else "—"
        r_iv = f"{r.rank_lo}-{r.rank_hi}" if r.rank_lo is not None else ""
        s_iv = f"{num(r.score_lo)}-{num(r.score_hi)}" if r.score_lo is not None else ""
        trend = num(r.trend)
        t = "" if r.trend is None else f"{'+' if trend[0] != '-' else ''}{trend}"
        note = f"  (not ranked: {r.reason})" if r.reason else ""
        print(
            f"  {shown:>9} {r_iv:>9}  {num(r.score):>6} {s_iv:>15} {t:>7} {r.k_n:>5} "
            f"{r.q_n:>5}  {r.unit_name} [{r.peer_group} {r.unit_code}]{note}"
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


def register(add: Adder) -> None:
    """Add this module's commands to the parser."""
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
