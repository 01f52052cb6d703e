"""The alert engine's read of the landed counts and the alerts' table and view on the
real ClickHouse server (the same checks run on the current engine, chdb, in
tests/unit/test_alerting.py)."""

from __future__ import annotations

import pytest

from hailong.settings import Settings
from tests.unit.test_alerting import check_alert_store, check_live_reads, check_office_hours
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration


def test_office_hours_on_the_server(settings: Settings) -> None:
    with Warehouse(settings) as wh:
        check_office_hours(wh)


def test_alert_store_on_the_server(settings: Settings) -> None:
    with Warehouse(settings) as wh:
        check_alert_store(wh)


def test_live_rules_read_on_the_server(settings: Settings) -> None:
    with Warehouse(settings) as wh:
        check_live_reads(wh)


def test_the_dashboards_per_office_reads_equal_the_views_on_the_server(
    settings: Settings,
) -> None:
    from tests.unit.test_dashboard_sql import check_same_rows

    with Warehouse(settings) as wh:
        check_same_rows(wh)
