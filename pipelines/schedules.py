"""When rankings are computed: each period once it has ended, in Asia/Ho_Chi_Minh time.

- monthly: on the 1st at 02:00 for the previous month;
- annual: on 1 January at 02:00 for the previous year.

A late event or a backfill is handled by running the partition again (it replaces the
period's rows): ``hailong rank --month YYYY-MM`` or Dagster's UI.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from dagster import (
    RunRequest,
    ScheduleEvaluationContext,
    define_asset_job,
    schedule,
)

from hailong.methodology import LOCAL_TZ_NAME
from pipelines.assets import (
    annual_ranking,
    annual_ranking_inputs,
    monthly_ranking,
    monthly_ranking_inputs,
)

# Partitioning comes from the selected assets; their blocking checks run with them.
monthly_job = define_asset_job(
    "monthly_ranking_job", selection=[monthly_ranking_inputs, monthly_ranking]
)
annual_job = define_asset_job(
    "annual_ranking_job", selection=[annual_ranking_inputs, annual_ranking]
)


def previous_month(at: datetime) -> str:
    """The monthly partition key of the month before ``at`` (local time)."""
    first = date(at.year, at.month, 1) - timedelta(days=1)
    return f"{first.year:04d}-{first.month:02d}-01"


def previous_year(at: datetime) -> str:
    return f"{at.year - 1:04d}"


@schedule(job=monthly_job, cron_schedule="0 2 1 * *", execution_timezone=LOCAL_TZ_NAME)
def monthly_ranking_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    key = previous_month(context.scheduled_execution_time)
    return RunRequest(run_key=f"monthly-{key}", partition_key=key)


@schedule(job=annual_job, cron_schedule="0 2 1 1 *", execution_timezone=LOCAL_TZ_NAME)
def annual_ranking_schedule(context: ScheduleEvaluationContext) -> RunRequest:
    key = previous_year(context.scheduled_execution_time)
    return RunRequest(run_key=f"annual-{key}", partition_key=key)
