"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``."""

from dagster import Definitions

from pipelines.assets import (
    annual_ranking,
    annual_ranking_inputs,
    monthly_ranking,
    monthly_ranking_inputs,
)
from pipelines.resources import ClickHouseResource
from pipelines.schedules import (
    annual_job,
    annual_ranking_schedule,
    monthly_job,
    monthly_ranking_schedule,
)

defs = Definitions(
    assets=[monthly_ranking_inputs, monthly_ranking, annual_ranking_inputs, annual_ranking],
    jobs=[monthly_job, annual_job],
    schedules=[monthly_ranking_schedule, annual_ranking_schedule],
    resources={"clickhouse": ClickHouseResource()},
)
