"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``."""

from dagster import Definitions

from pipelines.assets import annual_ranking, monthly_ranking
from pipelines.resources import ClickHouseResource
from pipelines.schedules import (
    annual_job,
    annual_ranking_schedule,
    monthly_job,
    monthly_ranking_schedule,
)

defs = Definitions(
    assets=[monthly_ranking, annual_ranking],
    jobs=[monthly_job, annual_job],
    schedules=[monthly_ranking_schedule, annual_ranking_schedule],
    resources={"clickhouse": ClickHouseResource()},
)
