"""The one Dagster entry point: ``dagster dev -m pipelines.definitions``.

The ``clickhouse`` resource's fields (``pipelines/resources.py``) come from the
``HAILONG_*`` variables, read as Settings when Dagster loads this module (an invalid
value stops the load with the settings' message). A field whose variable is set and
that Dagster can read from a variable (text, whole numbers) is given as that variable
(``dagster.EnvVar``): Dagster reads it when a run starts and keeps its value (passwords)
out of the UI and the run's config. Every other field has the settings' value: its
default, or the variable's value as the settings read it (weights, yes/no).
"""

from typing import Any

from dagster import Definitions, EnvVar

from hailong.settings import Settings, load_settings
from pipelines.assets import (
    annual_ranking,
    annual_ranking_inputs,
    monthly_ranking,
    monthly_ranking_inputs,
)
from pipelines.resources import SETTING_OF, ClickHouseResource, field_values
from pipelines.schedules import (
    annual_job,
    annual_ranking_schedule,
    monthly_job,
    monthly_ranking_schedule,
)


def deployed_resource(settings: Settings) -> ClickHouseResource:
    """The ``clickhouse`` resource of the deployment: ``settings``' values, with an
    ``EnvVar`` for each text or whole-number field whose variable set it."""
    values: dict[str, Any] = field_values(settings)
    for field, name in SETTING_OF.items():
        value, variable = values[field], f"HAILONG_{name.upper()}"
        if name not in settings.model_fields_set or isinstance(value, bool):
            continue
        if isinstance(value, int):
            values[field] = EnvVar.int(variable)
        elif isinstance(value, str):
            values[field] = EnvVar(variable)
    return ClickHouseResource(**values)


defs = Definitions(
    assets=[monthly_ranking_inputs, monthly_ranking, annual_ranking_inputs, annual_ranking],
    jobs=[monthly_job, annual_job],
    schedules=[monthly_ranking_schedule, annual_ranking_schedule],
    resources={"clickhouse": deployed_resource(load_settings())},
)
