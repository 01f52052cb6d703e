"""Ranking assets: monthly and annual partitions in Asia/Ho_Chi_Minh time.

Each period goes through two assets:

``<period>_ranking_inputs``
    Reads the period's counts from ClickHouse: every unit's counts, the previous
    period's counts over each unit's current offices (for the trend), the per-staff
    kiosk counts, and the registry version. Two blocking asset checks guard it:
    ``no_silent_office`` (an office registered in a unit sent nothing in the whole
    period) and ``counts_reconcile_with_raw`` (the hourly counts equal a recomputation
    from the raw events). A failed check stops the run before anything is published.
``<period>_ranking``
    Scores, ranks and bootstraps the units (seeded: ``bootstrap_seed``), replaces the
    period's rows in ``rankings`` and ``staff_scores``, writes the report (CSV and
    HTML) under the report folder and mails it (``pipelines/delivery.py``).

The ranking itself is pure code (``pipelines/ranking.py``, ``pipelines/bootstrap.py``);
its reads and writes in ClickHouse are ``pipelines/ranking_store.py``'s; the settings
come from the ``clickhouse`` resource (``pipelines/resources.py``).
"""

# No `from __future__ import annotations` here: Dagster inspects the real annotations.

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from dagster import (
    AssetCheckResult,
    AssetCheckSeverity,
    AssetCheckSpec,
    AssetExecutionContext,
    AssetIn,
    DagsterInstance,
    ExecuteInProcessResult,
    Failure,
    MaterializeResult,
    MetadataValue,
    MonthlyPartitionsDefinition,
    Output,
    PartitionsDefinition,
    TimeWindowPartitionsDefinition,
    asset,
    materialize,
)

from hailong.clock import SYSTEM, Clock
from hailong.methodology import LOCAL_TZ_NAME
from pipelines.bootstrap import UnitSample, bootstrap_intervals, inconsistent_units
from pipelines.ranking import Interval, Period, RankingRow, StaffRow, UnitCounts, build_ranking
from pipelines.ranking_store import (
    publish,
    publish_staff,
    registry_version,
    silent_offices,
    staff_scores,
    unit_counts,
    unit_samples,
)
from pipelines.report import Report, ReportRow, report_title, weights_text, write_report
from pipelines.resources import ClickHouseResource
from warehouse.client import Warehouse
from warehouse.reconcile import reconcile

# Rankings of the communes/wards start with the units born on 2025-07-01.
# end_offset=1 includes the period in progress, for a provisional ranking; the
# schedules (pipelines/schedules.py) rank only periods that have ended.
monthly_partitions = MonthlyPartitionsDefinition(
    start_date="2025-07-01", timezone=LOCAL_TZ_NAME, end_offset=1
)
annual_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2025", fmt="%Y", timezone=LOCAL_TZ_NAME, end_offset=1
)

SILENT = "no_silent_office"
RECONCILED = "counts_reconcile_with_raw"


@dataclass(frozen=True)
class RankingInputs:
    """What one period's ranking is computed from (kept by Dagster between the assets)."""

    period: Period
    counts: list[UnitCounts]
    previous: list[UnitCounts]  # the previous period over each unit's current offices
    staff: list[StaffRow]
    samples: list[UnitSample]  # each unit's counted events, for the bootstrap
    registry_version: int
    computed_at: datetime


def read_inputs(
    wh: Warehouse, period: Period, min_sample: int, clock: Clock = SYSTEM
) -> RankingInputs:
    """Read one period's inputs from ClickHouse (``pipelines/ranking_store.py``)."""
    computed_at = clock.now().replace(microsecond=0)
    version = registry_version(wh)
    counts = unit_counts(wh, period)
    return RankingInputs(
        period=period,
        counts=counts,
        previous=unit_counts(wh, period.previous(), offices_of=period),
        staff=staff_scores(wh, period, min_sample, computed_at),
        samples=unit_samples(wh, period, counts),
        registry_version=version,
        computed_at=computed_at,
    )


def check_inputs(wh: Warehouse, period: Period) -> list[AssetCheckResult]:
    """The two blocking checks of a period's inputs."""
    silent = silent_offices(wh, period)
    start = datetime.fromtimestamp(period.start_s, UTC)
    end = datetime.fromtimestamp(period.end_s, UTC)
    report = reconcile(wh, start, end)
    differing = {t.table: len(t.differing) for t in report.tables if t.differing}
    return [
        AssetCheckResult(
            check_name=SILENT,
            passed=not silent,
            severity=AssetCheckSeverity.ERROR,
            description=(
                "every registered office sent events"
                if not silent
                else f"{len(silent)} office(s) sent nothing in {period.key}: close them "
                "in the registry or find out why their devices are silent"
            ),
            metadata={
                "silent_offices": MetadataValue.json(
                    [{"office_id": o, "unit_code": u} for o, u in silent[:200]]
                )
            },
        ),
        AssetCheckResult(
            check_name=RECONCILED,
            passed=report.clean,
            severity=AssetCheckSeverity.ERROR,
            description=(
                "hourly counts equal the recomputation from raw events"
                if report.clean
                else "hourly counts differ from raw: run `hailong reconcile "
                f"--since {start.isoformat()} --until {end.isoformat()} --repair`"
            ),
            metadata={
                "raw_events": report.raw_events,
                "differing_buckets": MetadataValue.json(differing),
            },
        ),
    ]


def _inputs(
    context: AssetExecutionContext, clickhouse: ClickHouseResource
) -> Iterator[Output[RankingInputs] | AssetCheckResult]:
    period = Period.parse(context.partition_key)
    settings = clickhouse.settings()
    with clickhouse.warehouse() as wh:
        inputs = read_inputs(wh, period, settings.min_sample)
        checks = check_inputs(wh, period)
    yield Output(
        inputs,
        metadata={
            "period": period.key,
            "units": len(inputs.counts),
            "staff": len(inputs.staff),
            "registry_version": inputs.registry_version,
        },
    )
    yield from checks


def _rank(
    context: AssetExecutionContext, clickhouse: ClickHouseResource, inputs: RankingInputs
) -> MaterializeResult[None]:
    """Rank one period and replace its rows in ``rankings`` and ``staff_scores``."""
    settings = clickhouse.settings()
    period = inputs.period
    bad = inconsistent_units(inputs.samples, inputs.counts)
    if bad:  # raw changed between the two reads (a bucket refresh behind): don't publish
        raise Failure(
            f"{period.key}: the QR events of units {bad[:10]} don't add up to "
            "their counts; run the partition again"
        )

    def rank(intervals: dict[str, Interval] | None = None) -> list[RankingRow]:
        return build_ranking(
            period,
            inputs.counts,
            settings.weights,
            settings.min_sample,
            inputs.computed_at,
            previous=inputs.previous,
            intervals=intervals,
            registry_version=inputs.registry_version,
        )

    eligible = {r.unit_code for r in rank() if r.eligible}
    rows = rank(
        bootstrap_intervals(
            inputs.samples,
            eligible,
            settings.weights,
            settings.bootstrap_seed,
            settings.bootstrap_resamples,
        )
    )
    with clickhouse.warehouse() as wh:
        publish(wh, period, rows)
        publish_staff(wh, period, inputs.staff)
    files = write_ranking_report(rows, settings.reports) if rows else ()
    ranked = sum(r.eligible for r in rows)
    context.log.info("%s: %d units, %d ranked", period.key, len(rows), ranked)
    mailed = 0
    if files:
        from pipelines.delivery import mail_report

        mailed = mail_report(
            settings,
            period.key,
            datetime.fromtimestamp(period.end_s, UTC),
            rows,
            next(f for f in files if f.suffix == ".csv"),
            inputs.computed_at,
        )
    return MaterializeResult(
        metadata={
            "period": period.key,
            "units": len(rows),
            "ranked": ranked,
            "staff": len(inputs.staff),
            "reports_mailed": mailed,
            "input_checksum": rows[0].input_checksum if rows else "",
            **{f"report_{f.suffix[1:]}": MetadataValue.path(str(f)) for f in files},
        }
    )


def write_ranking_report(rows: Sequence[RankingRow], out_dir: Path) -> tuple[Path, Path]:
    """The period's report files (CSV and HTML with a chart), from its ranking rows."""
    if not rows:
        raise ValueError("no ranking rows to report")
    first = rows[0]
    report = Report(
        period=first.period,
        title=report_title(first.period),
        methodology_version=first.methodology_version,
        weights=weights_text(first.weights),
        min_sample=first.min_sample,
        input_checksum=first.input_checksum,
        generated_at=first.computed_at,
    )
    return write_report(
        report,
        [
            ReportRow(
                peer_group=r.peer_group,
                unit_code=r.unit_code,
                unit_name=r.unit_name,
                rank=r.rank,
                n_ranked=r.n_ranked,
                score=r.score,
                score_lo=r.score_lo,
                score_hi=r.score_hi,
                rank_lo=r.rank_lo,
                rank_hi=r.rank_hi,
                k_n=r.k_n,
                q_n=r.q_n,
                c_n=r.c_n,
                trend=r.trend,
                reason=r.reason,
            )
            for r in rows
        ],
        out_dir,
    )


def _specs(name: str) -> list[AssetCheckSpec]:
    return [
        AssetCheckSpec(
            SILENT,
            asset=name,
            blocking=True,
            description="every office registered in a unit sent events",
        ),
        AssetCheckSpec(
            RECONCILED,
            asset=name,
            blocking=True,
            description="hourly counts equal a recomputation from raw events",
        ),
    ]


def _assets(prefix: str, partitions: PartitionsDefinition, what: str) -> tuple[Any, Any]:
    inputs_name = f"{prefix}_ranking_inputs"

    @asset(
        name=inputs_name,
        partitions_def=partitions,
        group_name="rankings",
        check_specs=_specs(inputs_name),
        description=f"The counts one {what}'s ranking is computed from, checked.",
    )
    def inputs_asset(context: AssetExecutionContext, clickhouse: ClickHouseResource) -> Any:
        yield from _inputs(context, clickhouse)

    @asset(
        name=f"{prefix}_ranking",
        partitions_def=partitions,
        group_name="rankings",
        ins={"inputs": AssetIn(inputs_name)},
        description=f"Units ranked by OSI for one {what} (tables rankings, staff_scores; "
        "report files).",
    )
    def ranking_asset(
        context: AssetExecutionContext, clickhouse: ClickHouseResource, inputs: RankingInputs
    ) -> MaterializeResult[None]:
        return _rank(context, clickhouse, inputs)

    return inputs_asset, ranking_asset


monthly_ranking_inputs, monthly_ranking = _assets("monthly", monthly_partitions, "month")
annual_ranking_inputs, annual_ranking = _assets("annual", annual_partitions, "year")


def materialize_period(
    key: str, clickhouse: ClickHouseResource, instance: DagsterInstance | None = None
) -> ExecuteInProcessResult:
    """Run one period's two assets and their checks in process (``hailong rank``, tests):
    ``key`` is 'YYYY-MM' or 'YYYY'. Check the result's ``success``; :func:`failed_checks`
    says why a run stopped before publishing."""
    period = Period.parse(key)
    annual = len(period.key) == 4
    assets = (
        [annual_ranking_inputs, annual_ranking]
        if annual
        else [monthly_ranking_inputs, monthly_ranking]
    )
    return materialize(
        assets,
        partition_key=period.key if annual else f"{period.key}-01",
        resources={"clickhouse": clickhouse},
        instance=instance,
        run_config={"loggers": {"console": {"config": {"log_level": "WARNING"}}}},
        raise_on_error=False,
    )


def failed_checks(result: ExecuteInProcessResult) -> list[str]:
    """'check: description' of every failed asset check of a run."""
    return [
        f"{e.check_name}: {e.description}"
        for e in result.get_asset_check_evaluations()
        if not e.passed
    ]
