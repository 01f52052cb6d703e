"""The view device_health on the real server, fed by a real worker: registered kiosks
and cameras (not revoked), when each was last heard from (the broker's clock), its clock
skew, and `silent` by the rule of warehouse.device_health.silent at the server's own time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from subprocess import Popen

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.settings import Settings
from tests.conftest import wait_until
from tests.events import kiosk_press
from warehouse.buckets import epoch_us
from warehouse.client import Warehouse
from warehouse.device_health import silent
from warehouse.devices import register, revoke

pytestmark = pytest.mark.integration


def test_device_health_shows_last_seen_skew_and_silence(
    settings: Settings, worker: Popen[bytes]
) -> None:
    with Warehouse(settings) as wh:
        for device, kind in (
            ("K1", "kiosk"),
            ("K2", "kiosk"),
            ("K3", "kiosk"),
            ("K4", "kiosk"),
            ("C1", "camera"),
        ):
            register(wh, device, kind, "HN-A", by="test")
        register(wh, "GW", "gateway", by="test")
        revoke(wh, "K4", by="test", why="stolen")
        sent_at = datetime.now(UTC)
        press = kiosk_press("HN-A", "K1", sent_at - timedelta(seconds=120))
        deliver(make_producer(settings, SIMULATOR), settings.topics.kiosk, [(b"HN-A", press)])
        three_hours_ago = epoch_us(sent_at - timedelta(hours=3))
        wh.insert(
            "device_seen",
            ("device_id", "office_id", "channel", "last_seen_us", "last_event_us", "skew_s"),
            [("K3", "HN-A", "kiosk", three_hours_ago, three_hours_ago, 2.0)],
        )
        wait_until(
            lambda: wh.execute("SELECT count() FROM device_seen WHERE device_id = 'K1'")[0][0] == 1,
            60,
            "K1 seen",
        )
        rows = {
            r[0]: r[1:]
            for r in wh.execute(
                "SELECT device_id, kind, last_seen_us, skew_s, checked_at, silent_minutes, silent "
                "FROM device_health"
            )
        }
    assert set(rows) == {"K1", "K2", "K3", "C1"}  # not the revoked kiosk, not the gateway
    kind, seen, skew, _, minutes, _ = rows["K1"]
    assert kind == "kiosk" and abs(seen - epoch_us(sent_at)) < 30_000_000
    assert -130 < skew < -110  # sent 2 minutes after its time: a backlog, clock fine
    assert rows["K2"][1] == 0 and rows["C1"][1] == 0  # never seen
    assert rows["K3"][1:3] == (three_hours_ago, 2.0)
    assert minutes == settings.device_silent_minutes
    for device, (_, seen, _, checked_at, minutes, flag) in rows.items():
        assert bool(flag) == silent(seen, checked_at, minutes), (device, checked_at)
