"""Ranking assets: monthly and annual partitions in Asia/Ho_Chi_Minh time."""

# No `from __future__ import annotations` here: Dagster inspects the real annotations.

from datetime import UTC, datetime

from dagster import (
    AssetExecutionContext,
    MaterializeResult,
    MonthlyPartitionsDefinition,
    TimeWindowPartitionsDefinition,
    asset,
)

from hailong.methodology import LOCAL_TZ_NAME as LOCAL_TZ
from pipelines.ranking import Period, build_ranking, publish, unit_counts
from pipelines.resources import ClickHouseResource

# Rankings of the communes/wards start with the units born on 2025-07-01.
# end_offset=1 includes the period in progress, for a provisional ranking; the
# schedules (pipelines/schedules.py) rank only periods that have ended.
monthly_partitions = MonthlyPartitionsDefinition(
    start_date="2025-07-01", timezone=LOCAL_TZ, end_offset=1
)
annual_partitions = TimeWindowPartitionsDefinition(
    cron_schedule="0 0 1 1 *", start="2025", fmt="%Y", timezone=LOCAL_TZ, end_offset=1
)


def _rank(context: AssetExecutionContext, clickhouse: ClickHouseResource) -> MaterializeResult:
    """Rank one period (the partition) and replace its rows in table ``rankings``."""
    period = Period.parse(context.partition_key)
    settings = clickhouse.settings()
    with clickhouse.warehouse() as wh:
        counts = unit_counts(wh, period)
        rows = build_ranking(period, counts, settings.weights, settings.min_sample,
                             datetime.now(UTC).replace(microsecond=0))
        publish(wh, period, rows)
    ranked = sum(r.eligible for r in rows)
    context.log.info("%s: %d units, %d ranked", period.key, len(rows), ranked)
    return MaterializeResult(metadata={
        "period": period.key, "units": len(rows), "ranked": ranked,
        "input_checksum": rows[0].input_checksum if rows else "",
    })


@asset(partitions_def=monthly_partitions, group_name="rankings")
def monthly_ranking(context: AssetExecutionContext,
                    clickhouse: ClickHouseResource) -> MaterializeResult:
    """Units ranked by OSI for one month (table ``rankings``, period 'YYYY-MM')."""
    return _rank(context, clickhouse)


@asset(partitions_def=annual_partitions, group_name="rankings")
def annual_ranking(context: AssetExecutionContext,
                   clickhouse: ClickHouseResource) -> MaterializeResult:
    """Units ranked by OSI for one year (table ``rankings``, period 'YYYY')."""
    return _rank(context, clickhouse)
