"""The reconciliation's recount from raw (warehouse/recount.py, warehouse/owners.py:
columns and numpy) equals the pure Python reference of hailong/counting.py on the
edge-heavy events of test_buckets_reference, landed with resends (copies claimed on
other partitions and offsets, so the owner rule decides), on the Debian 18.16 server;
whole or an office at a time, and with the claims read in many parts of the id space;
raw rows without a claim don't count."""

from __future__ import annotations

import random
from datetime import timedelta
from typing import Any

import pytest

from hailong.settings import Settings
from tests.integration.test_buckets_reference import BASE, land, random_events, reference
from warehouse import owners, recount
from warehouse.buckets import epoch_us
from warehouse.client import Warehouse
from warehouse.reconcile import reconcile

pytestmark = pytest.mark.integration


def as_dicts(ref: recount.Recount, offices: list[str]) -> dict[str, Any]:
    """The recount's tables keyed and valued as the pure reference's."""

    def rows(table: str) -> list[tuple[list[Any], list[Any]]]:
        b = ref.tables[table]
        keys = list(zip(*(c.tolist() for c in b.keys), strict=True))
        values = list(zip(*(c.tolist() for c in b.values), strict=True))
        return [(list(k), list(v)) for k, v in zip(keys, values, strict=True)]

    def key(k: list[Any]) -> tuple[Any, ...]:
        return (offices[k[0] - 1], k[1], *(x.decode() for x in k[2:]))

    return {
        "kiosk": {key(k): tuple(v) for k, v in rows("kiosk_hourly")},
        "misuse": {(k[0] << 64) | k[1] for k, _ in rows("kiosk_misuse")},
        "qr": {key(k): tuple(v) for k, v in rows("qr_hourly")},
        "qr_criteria": {key(k): tuple(v) for k, v in rows("qr_criteria_hourly")},
        "camera": {key(k): (*v[:-1], round(v[-1], 6)) for k, v in rows("camera_hourly")},
    }


@pytest.mark.parametrize("seed", [4, 5])
def test_recount_equals_the_pure_reference(settings: Settings, seed: int) -> None:
    events = random_events(seed)
    want = reference(events)
    want["misuse"] = {e.int for e in want["misuse"]}
    # wait sums in another order of addition: equal to 6 decimals, as reconcile compares
    want["camera"] = {k: (*v[:-1], round(v[-1], 6)) for k, v in want["camera"].items()}
    lo = epoch_us(BASE - timedelta(hours=3))
    hi = epoch_us(BASE + timedelta(hours=3))
    with Warehouse(settings) as wh:
        land(wh, events, random.Random(seed))
        # raw rows whose message has no claim (a copy a microsecond later): they never count
        for table, at in (("kiosk_ratings_raw", "occurred_at"), ("qr_surveys_raw", "submitted_at")):
            columns = [c for (c, _t, *_) in wh.execute(f"DESCRIBE TABLE {table}")]
            moved = {
                f"{at}_us": f"{at}_us + 1",
                "kafka_offset": "kafka_offset + 1000000",
                "version": "version - 1",
            }
            wh.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) SELECT "
                + ", ".join(moved.get(c, c) for c in columns)
                + f" FROM {table} WHERE office_id = 'O1' LIMIT 3"
            )
        for part_rows in (owners.PART_ROWS, 40):  # one part of the id space; many
            disowned = owners.disowned(wh, lo, hi, part_rows)
            assert len(disowned["kiosk"]) == len(disowned["qr"]) == 3, "the copies don't count"
            group = recount.read_group(wh, lo, hi, ["O1", "O2"])
            whole = as_dicts(recount.reference(group, disowned), ["O1", "O2"])
            assert whole == want
            by_office: dict[str, Any] = {name: type(v)() for name, v in want.items()}
            for office in ("O1", "O2"):
                group = recount.read_group(wh, lo, hi, [office])
                part = as_dicts(recount.reference(group, disowned), [office])
                for name, value in part.items():
                    by_office[name].update(value)
            assert by_office == want
        report = reconcile(wh, BASE - timedelta(hours=3), BASE + timedelta(hours=3))
        assert report.clean and report.raw_events == len(events)
