"""Dagster resources: how the ranking assets reach ClickHouse, and the settings they use.

:class:`ClickHouseResource` declares each setting the ranking uses as a field (Dagster's
UI lists them): where ClickHouse is and who logs in, the methodology's weights, minimum
sample and bootstrap, the report folder, and the SMTP server that mails the report.
Nothing here reads the environment: ``hailong rank``, the tests and the benchmarks build
the resource from their :class:`~hailong.settings.Settings`
(:meth:`ClickHouseResource.from_settings`); Dagster's deployment
(``pipelines/definitions.py``) fills the fields whose variables are set from those
variables (``dagster.EnvVar``), the others with the settings' defaults.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dagster import ConfigurableResource
from pydantic import BaseModel, SecretStr, TypeAdapter

from hailong.settings import Settings
from warehouse.client import Warehouse

# Each field and the setting it holds (hailong/settings.py: variable HAILONG_<SETTING>).
SETTING_OF = {
    "host": "clickhouse_host",
    "port": "clickhouse_port",
    "local_port": "clickhouse_local_port",
    "stack_cluster": "cluster",
    "cluster": "clickhouse_cluster",
    "alt_hosts": "clickhouse_alt_hosts",
    "database": "clickhouse_database",
    "user": "clickhouse_user",
    "password": "clickhouse_password",
    "weights": "weights",
    "min_sample": "min_sample",
    "bootstrap_seed": "bootstrap_seed",
    "bootstrap_resamples": "bootstrap_resamples",
    "report_dir": "report_dir",
    "smtp_host": "smtp_host",
    "smtp_port": "smtp_port",
    "smtp_from": "smtp_from",
    "smtp_starttls": "smtp_starttls",
    "smtp_user": "smtp_user",
    "smtp_password": "smtp_password",
}
# Each setting's type with its constraints, to check a field's value as Settings would.
_TYPES = {
    name: TypeAdapter(Settings.model_fields[name].rebuild_annotation())
    for name in SETTING_OF.values()
}


def _plain(value: object) -> Any:
    """A setting's value as a field's: secrets and paths as text, the weights as a dict."""
    if isinstance(value, SecretStr):
        return value.get_secret_value()
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, BaseModel):
        return value.model_dump()
    return value


def field_values(settings: Settings) -> dict[str, Any]:
    """The fields' values in ``settings`` (the report folder resolved: ``<stack_dir>/
    reports`` when ``report_dir`` is unset)."""
    values = {field: _plain(getattr(settings, name)) for field, name in SETTING_OF.items()}
    values["report_dir"] = str(settings.reports)
    return values


_DEFAULTS = field_values(Settings.model_construct())  # the settings' defaults, unread env


class ClickHouseResource(ConfigurableResource["ClickHouseResource"]):
    """The platform's ClickHouse database and the ranking's settings, as declared fields
    (each holds the setting named in :data:`SETTING_OF`; defaults: the settings')."""

    host: str | None = _DEFAULTS["host"]  # None: the local stack's server
    port: int | None = _DEFAULTS["port"]  # native protocol; None: the usual one
    local_port: int = _DEFAULTS["local_port"]  # the local stack's server's port
    stack_cluster: bool = _DEFAULTS["stack_cluster"]  # the local stack's cluster profile
    cluster: str | None = _DEFAULTS["cluster"]  # the ClickHouse cluster; None: one server
    alt_hosts: str = _DEFAULTS["alt_hosts"]  # further servers: host:port,...
    database: str = _DEFAULTS["database"]
    user: str = _DEFAULTS["user"]
    password: str = _DEFAULTS["password"]
    weights: dict[str, float] = _DEFAULTS["weights"]  # OSI channel weights: qr, kiosk, camera
    min_sample: int = _DEFAULTS["min_sample"]
    bootstrap_seed: int = _DEFAULTS["bootstrap_seed"]
    bootstrap_resamples: int = _DEFAULTS["bootstrap_resamples"]
    report_dir: str = _DEFAULTS["report_dir"]
    smtp_host: str | None = _DEFAULTS["smtp_host"]  # None: the report is not mailed
    smtp_port: int = _DEFAULTS["smtp_port"]
    smtp_from: str = _DEFAULTS["smtp_from"]
    smtp_starttls: bool = _DEFAULTS["smtp_starttls"]
    smtp_user: str = _DEFAULTS["smtp_user"]
    smtp_password: str = _DEFAULTS["smtp_password"]

    @classmethod
    def from_settings(cls, settings: Settings) -> ClickHouseResource:
        """The resource of these settings (``hailong rank``, tests, benchmarks)."""
        return cls(**field_values(settings))

    def settings(self) -> Settings:
        """These fields as :class:`Settings`, each value checked against its setting's
        type; every other setting at its default (the environment is not read)."""
        return Settings.model_construct(
            **{
                name: _TYPES[name].validate_python(getattr(self, field))
                for field, name in SETTING_OF.items()
            }
        )

    def warehouse(self) -> Warehouse:
        return Warehouse(self.settings())
