"""The ranking's Dagster resource (pipelines/resources.py) and how the deployment fills it
(pipelines/definitions.py): declared fields, the settings' values, no environment read
after it is made; in the deployment, the variables that are set as ``dagster.EnvVar``."""

from __future__ import annotations

from pathlib import Path

import pytest
from dagster import EnvVar, asset, materialize

from hailong.methodology import Weights
from hailong.settings import load_settings
from pipelines.definitions import deployed_resource
from pipelines.resources import SETTING_OF, ClickHouseResource


def test_the_resource_holds_the_settings_it_was_made_from(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    settings = load_settings(
        clickhouse_database="elsewhere",
        clickhouse_port=9440,
        clickhouse_password="not the default",  # noqa: S106 - a test's
        weights=Weights(qr=0.6, kiosk=0.3, camera=0.1),
        min_sample=12,
        bootstrap_seed=7,
        smtp_host="mail.example",
        smtp_starttls=True,
        report_dir=tmp_path,
    )
    resource = ClickHouseResource.from_settings(settings)
    assert (resource.database, resource.port, resource.weights["qr"]) == ("elsewhere", 9440, 0.6)
    # The environment changes afterwards: the resource's settings don't.
    monkeypatch.setenv("HAILONG_MIN_SAMPLE", "3")
    monkeypatch.setenv("HAILONG_CLICKHOUSE_DATABASE", "other")
    again = resource.settings()
    for name in SETTING_OF.values():
        assert getattr(again, name) == getattr(settings, name), name
    assert (again.ch_host, again.ch_port, again.reports) == (
        "127.0.0.1",
        9440,
        tmp_path,
    )


def test_the_defaults_are_the_settings_defaults() -> None:
    defaults = ClickHouseResource().settings()
    plain = load_settings()
    for name in SETTING_OF.values():
        if name not in {*plain.model_fields_set, "report_dir"}:
            assert getattr(defaults, name) == getattr(plain, name), name
    if not {"report_dir", "stack_dir"} & plain.model_fields_set:
        assert defaults.reports == plain.reports  # <stack_dir>/reports


def test_the_deployment_reads_the_variables_that_are_set_when_a_run_starts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HAILONG_CLICKHOUSE_PASSWORD", "from the environment")
    monkeypatch.setenv("HAILONG_CLICKHOUSE_PORT", "9440")
    monkeypatch.setenv("HAILONG_SMTP_STARTTLS", "true")
    monkeypatch.setenv("HAILONG_WEIGHTS__QR", "0.6")
    monkeypatch.delenv("HAILONG_MIN_SAMPLE", raising=False)
    resource = deployed_resource(load_settings())
    assert isinstance(resource.password, EnvVar)
    assert resource.password.env_var_name == "HAILONG_CLICKHOUSE_PASSWORD"
    assert resource.smtp_starttls is True  # no yes/no variables in Dagster: the value
    assert resource.weights["qr"] == 0.6  # nor numbers with decimals
    assert resource.min_sample == 30  # unset: the setting's default

    seen = []

    @asset
    def probe(clickhouse: ClickHouseResource) -> None:
        s = clickhouse.settings()
        seen.append((s.clickhouse_password.get_secret_value(), s.ch_port, s.min_sample))

    monkeypatch.setenv("HAILONG_CLICKHOUSE_PORT", "9441")  # read when the run starts
    assert materialize([probe], resources={"clickhouse": resource}).success
    assert seen == [("from the environment", 9441, 30)]
