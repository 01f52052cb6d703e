"""A second city from CSV files only (issue 13): its registry loaded by `hailong registry
load`, its events through a real worker that checks offices against that registry, and
its ranking by `hailong rank`. No code knows the city."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.methodology import LOCAL_TZ
from hailong.settings import Settings
from infra.worker import running_worker
from tests.conftest import hailong, reconfigured, wait_until
from tests.events import kiosk_press
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration

CITY = Path(__file__).resolve().parents[1] / "fixtures" / "second_city"
# Each commune's share of satisfied presses: the ranking must come out in this order.
SATISFIED = {"MAU-90003": 0.9, "MAU-90001": 0.7, "MAU-90004": 0.5, "MAU-90002": 0.3}
PRESSES = 40  # per office, above the minimum sample of 30


def test_a_second_city_from_csv_files(settings: Settings, tmp_path: Path) -> None:
    # The office rule on: only the second city's registry makes its events count. The
    # events are of a fixed month (October 2026): no horizon.
    s = reconfigured(settings, quarantine_unregistered=True)
    files = ("--units", str(CITY / "units.csv"), "--offices", str(CITY / "offices.csv"))
    loaded = hailong(s, "registry", "load", *files)
    assert loaded.returncode == 0, loaded.stderr
    assert "new version 1: 5 units, 4 office intervals" in loaded.stdout
    again = hailong(s, "registry", "load", *files)
    assert "unchanged, still version 1" in again.stdout

    start = datetime(2026, 10, 5, 8, 0, tzinfo=LOCAL_TZ)
    messages = []
    for office, share in SATISFIED.items():
        for i in range(PRESSES):
            value = 5 if i < round(share * PRESSES) else 1
            at = start + timedelta(minutes=10 * i)
            messages.append(
                (office.encode(), kiosk_press(office, f"{office}-K{i % 4}", at, value=value))
            )
    # and one press of an office the city does not have: held, never counted
    messages.append((b"MAU-99999", kiosk_press("MAU-99999", "K", start)))

    with running_worker(s, tmp_path / "worker.log") as worker, Warehouse(s) as wh:
        deliver(make_producer(s, SIMULATOR), s.topics.kiosk, messages)

        def landed() -> tuple[int, int]:
            n = wh.execute("SELECT sum(k_n) FROM kiosk_hourly FINAL")[0][0] or 0
            return int(n), int(wh.execute("SELECT count() FROM quarantine FINAL")[0][0])

        wait_until(
            lambda: landed() == (PRESSES * len(SATISFIED), 1),
            60,
            "the city's presses counted and the stranger held",
        )
        assert worker.poll() is None
        reason = wh.execute("SELECT reason FROM quarantine FINAL")[0][0]
        assert "office 'MAU-99999' is not in the registry (version 1)" in reason

        ranked = hailong(s, "rank", "--month", "2026-10")
        assert ranked.returncode == 0, ranked.stderr[-3000:]
        rows = wh.execute(
            "SELECT unit_code, rank, n_ranked, k_n FROM rankings "
            "WHERE period = '2026-10' AND peer_group = 'commune' ORDER BY rank"
        )
    assert [(code, rank, n) for code, rank, n, _ in rows] == [
        (office.removeprefix("MAU-"), i + 1, 4) for i, office in enumerate(SATISFIED)
    ]
    assert all(k_n == PRESSES for *_, k_n in rows)
    assert "Phường Cẩm Lệ" in ranked.stdout and "1/4" in ranked.stdout
