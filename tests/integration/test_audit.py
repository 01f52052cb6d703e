"""`hailong audit verify` (issue 13): every counted event of a month re-verified against
the value its device signed; an event released from the quarantine is named as such;
a raw row changed after landing is named, exactly."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.methodology import LOCAL_TZ
from hailong.settings import Settings
from infra.worker import running_worker
from tests.conftest import hailong, reconfigured, register_device, wait_until
from tests.events import kiosk_press
from warehouse.client import Warehouse
from warehouse.devices import signer_from_config
from warehouse.kiosk import RAW_COLUMNS

pytestmark = pytest.mark.integration


def test_audit_verifies_every_event_and_names_a_tampered_one(
    settings: Settings, tmp_path: Path
) -> None:
    s = reconfigured(settings, require_signatures=True)
    config = tmp_path / "K.json"
    register_device(s, "K-A", "kiosk", "HN-A", config, "--from", "2020-01-01T00:00:00+00:00")
    signer = signer_from_config(config)
    at = datetime(2026, 10, 14, 9, 0, tzinfo=LOCAL_TZ)
    ids = [uuid.uuid4() for _ in range(4)]

    def press(i: int) -> bytes:
        return kiosk_press("HN-A", "K-A", at + timedelta(minutes=5 * i), event_id=ids[i])

    messages = [(b"HN-A", press(i), [*signer.headers(press(i))]) for i in range(3)]
    messages.append((b"HN-A", press(3), []))  # unsigned: held, then released by a person
    with running_worker(s, tmp_path / "worker.log"), Warehouse(s) as wh:
        deliver(make_producer(s, SIMULATOR), s.topics.kiosk, messages)

        def state() -> tuple[int, int]:
            return (
                int(wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL")[0][0]),
                int(wh.execute("SELECT count() FROM quarantine FINAL")[0][0]),
            )

        wait_until(lambda: state() == (3, 1), 60, "3 counted, 1 held")
        released = hailong(
            s,
            "quarantine",
            "release",
            "--event-id",
            str(ids[3]),
            "--why",
            "kiosk firmware without signing, checked",
            "--by",
            "auditor",
        )
        assert released.returncode == 0 and ": counted" in released.stdout, released.stderr

        clean = hailong(s, "audit", "verify", "--month", "2026-10")
        assert clean.returncode == 0, clean.stdout + clean.stderr
        assert (
            "4 raw events checked: 3 verified against their device's signature, 1 "
            "released from the quarantine by a person" in clean.stdout
        )
        assert "0 failures" in clean.stdout
        other = hailong(s, "audit", "verify", "--month", "2026-09")
        assert "0 raw events checked" in other.stdout and other.returncode == 0

        # Someone with write access turns a 5 into a 1 (a newer version of the row).
        (row,) = wh.execute(
            f"SELECT {', '.join(RAW_COLUMNS)} FROM kiosk_ratings_raw FINAL WHERE event_id = %(e)s",
            {"e": ids[1]},
        )
        tampered = list(row)
        tampered[RAW_COLUMNS.index("value")] = 1
        tampered[RAW_COLUMNS.index("version")] += 1
        wh.insert("kiosk_ratings_raw", RAW_COLUMNS, [tuple(tampered)])
        caught = hailong(s, "audit", "verify", "--month", "2026-10")
    assert caught.returncode == 1
    failed = [line for line in caught.stdout.splitlines() if "FAILED" in line]
    assert len(failed) == 1, caught.stdout
    assert f"kiosk event {ids[1]}" in failed[0]
    assert "differs from what device 'K-A' signed in value, version" in failed[0]
    assert "2 verified" in caught.stdout and "1 failures" in caught.stdout
