"""The ranking schedules ask for the period that just ended, in Hanoi time."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from dagster import Definitions, RunRequest, build_schedule_context

from pipelines.definitions import defs
from pipelines.schedules import annual_ranking_schedule, monthly_ranking_schedule

HANOI = ZoneInfo("Asia/Ho_Chi_Minh")


def run_request(schedule: object, at: datetime) -> RunRequest:
    result = schedule(build_schedule_context(scheduled_execution_time=at))  # type: ignore[operator]
    assert isinstance(result, RunRequest)
    return result


def test_monthly_ranks_the_previous_month_at_0200_on_the_1st() -> None:
    assert monthly_ranking_schedule.cron_schedule == "0 2 1 * *"
    assert monthly_ranking_schedule.execution_timezone == "Asia/Ho_Chi_Minh"
    assert (
        run_request(monthly_ranking_schedule, datetime(2026, 12, 1, 2, tzinfo=HANOI)).partition_key
        == "2026-11-01"
    )
    assert (
        run_request(monthly_ranking_schedule, datetime(2027, 1, 1, 2, tzinfo=HANOI)).partition_key
        == "2026-12-01"
    )


def test_annual_ranks_the_previous_year_on_1_january() -> None:
    assert annual_ranking_schedule.cron_schedule == "0 2 1 1 *"
    assert (
        run_request(annual_ranking_schedule, datetime(2027, 1, 1, 2, tzinfo=HANOI)).partition_key
        == "2026"
    )


def test_definitions_load_with_jobs_schedules_and_partitions() -> None:
    Definitions.validate_loadable(defs)
    assert defs.resolve_schedule_def("monthly_ranking_schedule").job_name == "monthly_ranking_job"
    assert defs.resolve_schedule_def("annual_ranking_schedule").job_name == "annual_ranking_job"
    monthly = defs.resolve_job_def("monthly_ranking_job").partitions_def
    annual = defs.resolve_job_def("annual_ranking_job").partitions_def
    assert monthly is not None and annual is not None
    assert monthly.get_partition_keys(datetime(2025, 9, 15, tzinfo=HANOI)) == [
        "2025-07-01",
        "2025-08-01",
        "2025-09-01",
    ]
    assert annual.get_partition_keys(datetime(2026, 3, 1, tzinfo=HANOI)) == ["2025", "2026"]
