"""Settings that refuse to run unsafely."""
# ruff: noqa: S105, S106 - made-up passwords are what these tests are about

from __future__ import annotations

import pytest

from hailong.errors import ConfigError
from hailong.settings import load_settings


def test_default_clickhouse_passwords_are_refused_for_a_server_elsewhere() -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(clickhouse_host="ch.example.internal")
    text = str(info.value)
    assert "HAILONG_CLICKHOUSE_PASSWORD" in text and "HAILONG_CLICKHOUSE_READONLY_PASSWORD" in text
    with pytest.raises(ConfigError, match="HAILONG_CLICKHOUSE_READONLY_PASSWORD"):
        load_settings(clickhouse_host="10.0.0.5", clickhouse_password="s3cret-platform")
    ok = load_settings(
        clickhouse_host="10.0.0.5",
        clickhouse_password="a-long-secret",
        clickhouse_readonly_password="another-secret",
    )
    assert ok.ch_host == "10.0.0.5"


@pytest.mark.parametrize("host", [None, "127.0.0.1", "localhost", "::1"])
def test_default_passwords_are_fine_on_this_machine(host: str | None) -> None:
    assert load_settings(clickhouse_host=host).clickhouse_user == "hailong"


def test_a_child_process_gets_what_was_set() -> None:
    s = load_settings(
        late_horizon_days=0,
        quarantine_unregistered=False,
        clickhouse_password="pw",
        topic_prefix="x.",
    )
    env = s.environment()
    assert env["HAILONG_LATE_HORIZON_DAYS"] == "0.0"
    assert env["HAILONG_QUARANTINE_UNREGISTERED"] == "False"
    assert env["HAILONG_CLICKHOUSE_PASSWORD"] == "pw"
    again = load_settings(
        **{
            k.removeprefix("HAILONG_").lower(): v
            for k, v in env.items()
            if k.removeprefix("HAILONG_").lower() in s.model_fields_set
        }
    )
    assert (again.late_horizon_days, again.quarantine_unregistered, again.topic_prefix) == (
        0,
        False,
        "x.",
    )
