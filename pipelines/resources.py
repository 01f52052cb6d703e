"""Dagster resources: how assets reach ClickHouse (and where they write reports)."""

from __future__ import annotations

from dagster import ConfigurableResource

from hailong.settings import Settings, load_settings
from warehouse.client import Warehouse


class ClickHouseResource(ConfigurableResource):  # type: ignore[misc]
    """The platform's ClickHouse database and settings. Everything comes from HAILONG_*;
    ``database`` and ``report_dir`` override those two (tests use fresh ones each)."""

    database: str | None = None
    report_dir: str | None = None

    def settings(self) -> Settings:
        overrides: dict[str, object] = {}
        if self.database:
            overrides["clickhouse_database"] = self.database
        if self.report_dir:
            overrides["report_dir"] = self.report_dir
        return load_settings(**overrides)

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings())
