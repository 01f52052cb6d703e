"""Issue 12's quarantine and stale rankings, through a real worker on the real broker
and server, with every rule on (the suite's other tests turn the horizon and registry
rules off: their events have fixed dates and made-up offices).

Times are relative to the broker's clock (the event topics use LogAppendTime), which
is the real one: this test never depends on the date, only on the time between now
and the events it sends."""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.registry import Office, Unit
from hailong.settings import Settings
from infra.worker import running_worker
from tests.conftest import hailong, reconfigured, wait_until
from tests.events import kiosk_press
from warehouse.client import Warehouse
from warehouse.registry import load_registry
from warehouse.staleness import periods_of

pytestmark = pytest.mark.integration

OFFICE = "HN-T1"
CITY = Unit("00", "Thành phố Thử", "Thành phố", "city", "", date(1970, 1, 1), None)
COMMUNE = Unit("T1", "Xã Thử", "Xã", "commune", "00", date(2020, 1, 1), None)


@pytest.fixture
def strict(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings with every quarantine rule on, the defaults' horizon and
    skew, a one-office registry, and a worker running."""
    s = reconfigured(
        settings, late_horizon_days=45, max_clock_skew_s=600, quarantine_unregistered=True
    )
    with Warehouse(s) as wh:
        load_registry(wh, [CITY, COMMUNE], [Office(OFFICE, "Bộ phận Một cửa Xã Thử", COMMUNE)])
    with running_worker(s, tmp_path / "worker.log") as proc:
        wait_until(lambda: proc.poll() is None, 5)
        yield s
        assert proc.poll() is None, "the worker must survive"


def press(office: str, at: datetime, event_id: uuid.UUID) -> bytes:
    """A press on a kiosk of its own (presses of one kiosk seconds apart are misuse)."""
    device = f"{office}-K-{str(event_id)[:8]}"
    return kiosk_press(office, device, at.isoformat(timespec="seconds"), event_id=event_id)


def test_implausible_events_are_held_shown_and_released_with_an_audit(strict: Settings) -> None:
    s = strict
    now = datetime.now(UTC).replace(microsecond=0)
    late = now - timedelta(days=3)  # a kiosk that was offline for 3 days: counts
    month = periods_of(int(late.timestamp()) * 1_000_000)[0]
    ids = {k: uuid.uuid4() for k in ("late", "key", "ahead", "old", "unknown", "copy", "B")}
    producer = make_producer(s, SIMULATOR)
    deliver(
        producer,
        s.topics.kiosk,
        [
            (OFFICE.encode(), press(OFFICE, late, ids["late"])),
            (b"HN-T2", press(OFFICE, late, ids["key"])),
            (OFFICE.encode(), press(OFFICE, now + timedelta(hours=2), ids["ahead"])),
            (OFFICE.encode(), press(OFFICE, now - timedelta(days=60), ids["old"])),
            (b"HN-ZZ", press("HN-ZZ", late, ids["unknown"])),
            (None, press(OFFICE, late, ids["copy"])),  # held (no key) ...
            (OFFICE.encode(), press(OFFICE, late, ids["copy"])),  # ... its copy counts
        ],
    )

    # city IT's views (the city_it account reads them in the platform's database only:
    # tests/integration/test_accounts.py; this test's database is its own)
    with Warehouse(s) as wh, Warehouse(s) as city_it:

        def counted() -> int:
            return int(wh.execute("SELECT sum(k_n) FROM kiosk_hourly FINAL")[0][0] or 0)

        def view() -> dict[uuid.UUID, list[tuple[Any, ...]]]:
            out: dict[uuid.UUID, list[tuple[Any, ...]]] = {}
            for row in city_it.execute(
                "SELECT event_id, reason, released, released_by, release_why, outcome "
                "FROM quarantined_events ORDER BY kafka_offset"
            ):
                out.setdefault(row[0], []).append(row[1:])
            return out

        wait_until(
            lambda: len(view()) == 5 and counted() == 2, 60, "5 events quarantined and 2 counted"
        )
        held = view()
        assert set(held) == {ids[k] for k in ("key", "ahead", "old", "unknown", "copy")}
        assert (
            "the Kafka key ('HN-T2') is not the event's office_id 'HN-T1'" in held[ids["key"]][0][0]
        )
        assert "ahead of the broker's timestamp" in held[ids["ahead"]][0][0]
        assert "days before the broker's timestamp" in held[ids["old"]][0][0]
        assert "office 'HN-ZZ' is not in the registry" in held[ids["unknown"]][0][0]
        assert "the Kafka key (none)" in held[ids["copy"]][0][0]
        assert all(not rows[0][1] for rows in held.values())  # none released yet
        # nothing of them counts anywhere city IT looks
        assert (
            city_it.execute(
                "SELECT count() FROM kiosk_ratings WHERE event_id IN %(i)s",
                {"i": tuple(ids[k] for k in ("key", "ahead", "old", "unknown"))},
            )[0][0]
            == 0
        )

        # The month's ranking is published: not stale.
        ranked = hailong(s, "rank", "--month", month)
        assert ranked.returncode == 0, ranked.stderr[-3000:]
        assert "No published ranking is stale." in ranked.stdout

        # A late event lands in the published month: the ranking is stale, in the views
        # and in `hailong rank`.
        deliver(producer, s.topics.kiosk, [(OFFICE.encode(), press(OFFICE, late, ids["B"]))])
        wait_until(lambda: counted() == 3, 60, "the late event counted")
        wait_until(
            lambda: (
                city_it.execute("SELECT period, late_events FROM stale_rankings") == [(month, 1)]
            ),
            30,
            "the published month marked stale",
        )
        flags = city_it.execute(
            "SELECT DISTINCT stale, late_events FROM ranking_monthly WHERE period = %(p)s",
            {"p": month},
        )
        assert flags == [(1, 1)]
        listed = hailong(s, "rank", "--stale")
        assert listed.returncode == 0, listed.stderr
        assert (
            f"  {month:<8} published" in listed.stdout
            and "1 late events of 1 offices" in listed.stdout
        )

        def release(event: str, *options: str) -> subprocess.CompletedProcess[str]:
            """``hailong quarantine release`` of the event ``ids[event]``."""
            return hailong(s, "quarantine", "release", "--event-id", str(ids[event]), *options)

        # A person releases the key mismatch: audited, then counted (and late too).
        why = "kiosk key misconfigured; checked on site"
        out = release("key", "--by", "reviewer", "--why", why)
        assert out.returncode == 0, out.stderr
        assert f"released {ids['key']}" in out.stdout and ": counted" in out.stdout
        assert counted() == 4
        (row,) = view()[ids["key"]]
        assert row[1:] == (1, "reviewer", "kiosk key misconfigured; checked on site", "counted")
        assert city_it.execute("SELECT late_events FROM stale_rankings") == [(2,)]
        # Released again: a second audit row, no second count.
        again = release("key", "--by", "reviewer2", "--why", "again")
        assert again.returncode == 0 and ": counted" in again.stdout
        assert counted() == 4
        assert wh.execute(
            "SELECT released_by FROM quarantine_releases WHERE event_id = "
            "%(e)s ORDER BY released_at_us",
            {"e": ids["key"]},
        ) == [("reviewer",), ("reviewer2",)]
        # The held copy of an event that counts does not count twice.
        copy = release("copy", "--by", "reviewer", "--why", "copy")
        assert copy.returncode == 0 and "a copy of an event that already counts" in copy.stdout
        assert counted() == 4
        # Refused: an id not in the quarantine, a release without a reason.
        unknown = release("late", "--why", "x")
        assert unknown.returncode == 2 and "not in the quarantine" in unknown.stderr
        no_why = release("old")
        assert no_why.returncode == 2 and "why (--why)" in no_why.stderr
        assert counted() == 4
        listing = hailong(s, "quarantine", "list")
        assert listing.returncode == 0 and "3 held quarantined messages" in listing.stdout

        # Re-running the month's ranking takes the late events in: not stale any more.
        rerun = hailong(s, "rank", "--month", month)
        assert rerun.returncode == 0, rerun.stderr[-3000:]
        assert "No published ranking is stale." in rerun.stdout
        assert city_it.execute(
            "SELECT DISTINCT stale FROM ranking_monthly WHERE period = %(p)s", {"p": month}
        ) == [(0,)]
        k_n = wh.execute(
            "SELECT k_n FROM rankings WHERE period = %(p)s AND unit_code = 'T1'", {"p": month}
        )
        assert k_n == [(4,)]
