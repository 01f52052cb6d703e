"""A city's registry in ClickHouse keeps its history (issue 5): versions, units renamed
without overwriting, offices carried across the 2025 merger one unit per interval,
reloads idempotent; on test_rankings.py's small city, and on Hanoi's own files."""

from __future__ import annotations

from datetime import date

import pytest

from hailong.registry import Office, Unit, hanoi_registry, read_lineage
from hailong.settings import Settings
from tests.integration.test_rankings import LINEAGE, MERGER, NEW, registry
from warehouse.client import Warehouse
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration


def test_registry_versions_keep_history_and_reload_idempotently(settings: Settings) -> None:
    with Warehouse(settings) as wh:
        units, offices = registry()
        first = load_registry(wh, units, offices, LINEAGE)
        again = load_registry(wh, units, offices, LINEAGE)
        assert (first.version, first.created, again.version, again.created) == (1, True, 1, False)
        renamed = [
            u
            if u.code != "80005"
            else Unit("80005", "Phường Năm Mới", u.type, u.level, u.parent_code, u.valid_from, None)
            for u in units
        ]
        second = load_registry(wh, renamed, offices, LINEAGE)
        assert (second.version, second.created) == (2, True)
        assert wh.execute(
            "SELECT registry_version, name FROM unit_versions "
            "WHERE code = '80005' ORDER BY registry_version"
        ) == [(1, "Phường Năm"), (2, "Phường Năm Mới")]  # history kept, not overwritten
        assert wh.execute("SELECT name FROM units WHERE code = '80005'") == [("Phường Năm Mới",)]
        # An office carried across the merger: one unit per interval.
        assert wh.execute(
            "SELECT unit_code, valid_from, valid_to FROM offices "
            "WHERE office_id = 'HN-80001' ORDER BY valid_from"
        ) == [("80001", date(1970, 1, 1), date(2025, 6, 30)), ("80001", MERGER, None)]
        assert wh.execute("SELECT count() FROM unit_lineage") == [(3,)]
        # Hanoi's own files: 126 communes, each continuing the office of the old unit
        # whose code it kept; every office is in one unit at a time.
        _units, h_offices, h_lineage = hanoi_registry()
        assert len([o for o in h_offices if o.unit.level == "commune"]) == 126
        assert all(not o.office_id.endswith("-2025") for o in h_offices)
        assert len(h_lineage) == len(read_lineage("hanoi_units_2025_lineage.csv"))
    with pytest.raises(Exception, match="belongs to units"):
        load_registry(None, units, [*offices, Office("HN-80001", "x", NEW[1])])  # type: ignore[arg-type]
