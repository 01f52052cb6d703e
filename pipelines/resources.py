"""Dagster resources: how assets reach ClickHouse."""

from __future__ import annotations

from dagster import ConfigurableResource

from hailong.settings import Settings, load_settings
from warehouse.client import Warehouse


class ClickHouseResource(ConfigurableResource):  # type: ignore[misc]
    """The platform's ClickHouse database. Connection settings come from HAILONG_*;
    ``database`` overrides the database (tests use a fresh one each)."""

    database: str | None = None

    def settings(self) -> Settings:
        if self.database:
            return load_settings(clickhouse_database=self.database)
        return load_settings()

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings())
