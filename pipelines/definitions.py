"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``."""

from dagster import Definitions

from pipelines.assets import monthly_ranking
from pipelines.resources import ClickHouseResource

defs = Definitions(assets=[monthly_ranking], resources={"clickhouse": ClickHouseResource()})
