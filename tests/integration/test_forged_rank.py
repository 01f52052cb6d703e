"""Issue 13's attacker, aiming at a rank: three communes of one peer group, each with a
registered kiosk, and a month of real presses that rank them 1st, 2nd and 3rd. The
attacker sends hundreds of "very satisfied" presses for the third in every way the issue
lists (unsigned, a made-up key, a registered id without its key, another office's
kiosk, signed presses replayed under new event_ids, a revoked kiosk), as an
authenticated Kafka client. Counted in the ranking they would make it first; the worker
quarantines every one, and the ranking's inputs, checksum and ranks stay the same."""

from __future__ import annotations

import json
import random
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hailong.kafka import SIMULATOR, Headers, deliver, make_producer
from hailong.settings import Settings, load_settings
from hailong.signing import Signer, new_key
from infra.worker import running_worker
from pipelines.ranking import Period, build_ranking, checksum
from pipelines.ranking_store import unit_counts
from producers.kiosk import KioskDevice
from tests.conftest import wait_until
from tests.integration.test_rankings import LINEAGE, registry
from warehouse import devices
from warehouse.client import Warehouse
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

MONTH = Period.month(2025, 7)


def ranks(wh: Warehouse, s: Settings) -> tuple[str, dict[str, int | None]]:
    counts = unit_counts(wh, MONTH)
    rows = build_ranking(MONTH, counts, s.weights, s.min_sample, datetime(2025, 8, 1, tzinfo=UTC))
    return checksum(counts), {r.unit_code: r.rank for r in rows}


def test_forged_presses_do_not_move_a_commune(settings: Settings, tmp_path: Path) -> None:
    s = load_settings(
        **{
            **{n: getattr(settings, n) for n in settings.model_fields_set},
            "require_signatures": True,
        }
    )
    with Warehouse(s) as wh:
        units, offices = registry()
        load_registry(wh, units, offices, LINEAGE)
        office_of = dict(
            wh.execute(
                "SELECT unit_code, min(office_id) FROM offices WHERE valid_from <= '2025-07-31' "
                "AND (valid_to IS NULL OR valid_to >= '2025-07-31') GROUP BY unit_code"
            )
        )
        groups: dict[str, list[str]] = {}
        for c in unit_counts(wh, MONTH):
            if c.unit_code in office_of:
                groups.setdefault(c.peer_group, []).append(c.unit_code)
        group = next(g for g, members in sorted(groups.items()) if len(members) >= 3)
        third, second, first = (office_of[u] for u in sorted(groups[group])[:3])

        def kiosk(device_id: str, office: str) -> devices.NewKey:
            since = datetime(2025, 1, 1, tzinfo=UTC)
            return devices.register(wh, device_id, "kiosk", office, by="test", valid_from=since)

        keys = {}
        for office in (third, second, first):
            new = kiosk(f"K-{office}", office)
            keys[office] = Signer(new.key.device_id, new.key.key_id, new.private_key)
        revoked = kiosk(f"K-{third}-old", third)
        devices.revoke(wh, f"K-{third}-old", by="test", why="stolen")

    def presses(office: str, n: int, satisfied: int, device: str = "") -> list[bytes]:
        kiosk = KioskDevice(office, device or f"K-{office}", 5, "Q1")
        start = datetime(2025, 7, 15, 9, tzinfo=UTC)
        return [
            kiosk.press(5 if i < satisfied else 2, at=start + timedelta(minutes=i)).to_json()
            for i in range(n)
        ]

    legit: list[tuple[bytes, bytes, Headers]] = []
    for office, satisfied in ((third, 20), (second, 26), (first, 32)):
        legit += [
            (office.encode(), v, [*keys[office].headers(v)]) for v in presses(office, 40, satisfied)
        ]

    producer = make_producer(s, SIMULATOR)
    with running_worker(s, tmp_path / "worker.log") as worker, Warehouse(s) as wh:
        deliver(producer, s.topics.kiosk, legit)
        wait_until(
            lambda: wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL")[0][0] == 120,
            90,
            "the month's 120 real presses counted",
        )
        # The hourly buckets the ranking reads land after the raw rows: wait for them too.
        wait_until(
            lambda: sum(c.k_n for c in unit_counts(wh, MONTH)) == 120,
            90,
            "the 120 presses in the hourly buckets",
        )
        before = ranks(wh, s)
        units_by_office = {v: k for k, v in office_of.items()}
        assert [before[1][units_by_office[o]] for o in (first, second, third)] == [1, 2, 3]

        # What 300 forged "very satisfied" presses would do if they counted: first place.
        counts = unit_counts(wh, MONTH)
        boosted = [
            replace(c, k_n=c.k_n + 300, k_sat=c.k_sat + 300)
            if c.unit_code == units_by_office[third]
            else c
            for c in counts
        ]
        would = build_ranking(
            MONTH, boosted, s.weights, s.min_sample, datetime(2025, 8, 1, tzinfo=UTC)
        )
        assert {r.unit_code: r.rank for r in would}[units_by_office[third]] == 1

        own_private, _ = new_key()
        forged: list[tuple[bytes, bytes, Headers]] = []
        for value in presses(third, 50, 50, device="FAKE-1"):  # unregistered, unsigned
            forged.append((third.encode(), value, []))
        for value in presses(third, 50, 50, device="FAKE-2"):  # a key of its own
            forged.append(
                (third.encode(), value, [*Signer("FAKE-2", 1, own_private).headers(value)])
            )
        for value in presses(third, 50, 50):  # the real kiosk's id, without its key
            forged.append(
                (third.encode(), value, [*Signer(f"K-{third}", 1, own_private).headers(value)])
            )
        for value in presses(third, 50, 50, device=f"K-{second}"):  # another office's kiosk
            forged.append((third.encode(), value, [*keys[second].headers(value)]))
        mine = [(k, v, h) for k, v, h in legit if k == third.encode()]
        for _, value, headers in random.Random(13).choices(mine, k=50):  # replays
            event = json.loads(value)
            event["event_id"], event["value"] = str(uuid.uuid4()), 5
            forged.append((third.encode(), json.dumps(event).encode(), headers))
        stolen = Signer(f"K-{third}-old", 1, revoked.private_key)
        for value in presses(third, 50, 50, device=f"K-{third}-old"):  # revoked
            forged.append((third.encode(), value, [*stolen.headers(value)]))
        assert len(forged) == 300
        deliver(producer, s.topics.kiosk, forged)

        wait_until(
            lambda: wh.execute("SELECT count() FROM quarantine FINAL")[0][0] == 300,
            90,
            "the 300 forged presses held",
        )
        reasons = dict(wh.execute("SELECT reason, count() FROM quarantine FINAL GROUP BY reason"))
        assert wh.execute("SELECT count() FROM kiosk_ratings_raw FINAL") == [(120,)]
        after = ranks(wh, s)
        assert after == before, reasons  # same inputs (checksum), same ranks
        assert worker.poll() is None
    print(
        f"\nforged presses for {third}: 300 sent, 0 counted, rank 3 before and after "
        f"(counted, they would have made it 1st); reasons: {len(reasons)} kinds"
    )
