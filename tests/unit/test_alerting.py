"""The alert engine's evaluation (streams/alerting.py): its read of the landed hourly
counts on the current ClickHouse engine (chdb), and hour-by-hour evaluation of a small
deterministic city: a drop at one office raises a credible-drop alert after the rule's
minimum duration, at that office only, and resolves itself when it recovers."""

from __future__ import annotations

import random
from typing import Any

from streams.alert_book import RuleBook
from streams.alert_life import RESOLVED, Track
from streams.alert_rules import Hour
from streams.alerting import catch_up, evaluate, office_hours
from warehouse.camera import HOURLY_COLUMNS as CAMERA_HOURLY
from warehouse.kiosk import HOURLY_COLUMNS as KIOSK_HOURLY
from warehouse.kiosk import MISUSE_COLUMNS as KIOSK_MISUSE
from warehouse.qr import CRITERIA_COLUMNS as QR_CRITERIA
from warehouse.quarantine import COLUMNS as QUARANTINE

DAY = 24
NOW = 480_009  # 16:00 in Hanoi on some weekday; no test depends on the date


def check_office_hours(wh: Any) -> None:
    """On either engine (``wh``: chdb here, the real server in
    tests/integration/test_alert_store.py)."""
    from datetime import UTC, datetime

    def at(h: int) -> datetime:
        return datetime.fromtimestamp(h * 3600, UTC)

    wh.insert(
        "kiosk_hourly",
        KIOSK_HOURLY,
        [
            ("HN-1", at(NOW - 2), 10, 7, 0, 1),
            ("HN-1", at(NOW - 2), 12, 9, 0, 2),
            ("HN-1", at(NOW), 5, 5, 0, 1),
            ("HN-2", at(NOW - 1), 0, 0, 3, 1),
            ("HN-3", at(NOW - 900), 4, 1, 0, 1),
        ],
    )
    wh.insert(
        "qr_criteria_hourly",
        QR_CRITERIA,
        [("HN-1", at(NOW), "Q", "A", "A1", 3, 1, 1), ("HN-1", at(NOW), "Q", "A", "A2", 3, 2, 1)],
    )
    wh.insert(
        "camera_hourly",
        CAMERA_HOURLY,
        [("HN-1", at(NOW), 4, 4, 0, 0, 0, 0, 0, 0.0, 1)],
    )
    got = office_hours(wh, NOW - 10, NOW)
    # The latest version of each bucket, hours with ratings or anonymous answers, only the
    # range asked; QR answers and camera observations add up as the anonymous signal.
    assert got == {"HN-1": [Hour(NOW - 2, 12, 9), Hour(NOW, 5, 5, 10, 7)]}


def test_office_hours_reads_the_landed_kiosk_counts(chdb_schema: Any) -> None:
    check_office_hours(chdb_schema)


def simulated(
    share_of: dict[str, float],
    first: int,
    last: int,
    drop: tuple[str, int, int, float],
    rng: random.Random,
) -> dict[str, list[Hour]]:
    """20 ratings an office hour; ``drop``: (office, from, until, share)."""
    out: dict[str, list[Hour]] = {}
    for office, share in share_of.items():
        for h in range(first, last + 1):
            if not 1 <= h % 24 <= 9:
                continue
            p = drop[3] if office == drop[0] and drop[1] <= h < drop[2] else share
            sat = sum(rng.random() < p for _ in range(20))
            out.setdefault(office, []).append(Hour(h, 20, sat))
    return out


def test_a_drop_raises_at_its_office_only_and_resolves_when_it_recovers() -> None:
    shares = {"HN-1": 0.85, "HN-2": 0.88, "HN-3": 0.80}
    drop_at = NOW - 9 * DAY + 1  # 08:00 nine days before NOW; it lasts three days
    history = simulated(
        shares, NOW - 45 * DAY, NOW, ("HN-1", drop_at, drop_at + 3 * DAY, 0.55), random.Random(11)
    )
    book = RuleBook()
    units = {"HN-1": "U1", "HN-2": "U1", "HN-3": "U2"}

    def run(book: RuleBook) -> tuple[dict[tuple[str, str], Track], list[Any], list[Any]]:
        tracks: dict[tuple[str, str], Track] = {}
        raised, resolved = [], []
        for h in range(drop_at - 2 * DAY, NOW + 1):
            if not 1 <= h % 24 <= 9:
                continue
            tracks, changes = evaluate(history, book, units, tracks, h)
            raised += [(c.alert.office_id, c.alert.rule, h) for c in changes if c.kind == "raised"]
            resolved += [
                (c.alert.office_id, c.alert.rule, h) for c in changes if c.kind == "resolved"
            ]
        return tracks, raised, resolved

    tracks, raised, resolved = run(book)
    drops = [r for r in raised if r[1] == "credible_drop"]
    assert [r[0] for r in drops] == ["HN-1"], raised
    assert drop_at + 2 <= drops[0][2] < drop_at + DAY  # after its 3 evaluations, same day
    assert any(
        o == "HN-1" and r == "credible_drop" and at >= drop_at + 3 * DAY for o, r, at in resolved
    ), resolved
    final = tracks[("HN-1", "credible_drop")].alert
    assert final is not None and final.state == RESOLVED and final.resolved_by == "recovered"
    assert tracks[("HN-2", "credible_drop")].alert is None
    # Rules are data: with the rule off for HN-1's unit, the same weeks raise nothing.
    off = RuleBook.model_validate({"units": {"U1": {"credible_drop": {"enabled": False}}}})
    assert not [r for r in run(off)[1] if r[1] == "credible_drop"]


def test_a_restart_rebuilds_the_same_open_alerts_under_the_same_ids() -> None:
    shares = {"HN-1": 0.85, "HN-2": 0.88}
    drop_at = NOW - 2 * DAY + 1  # still going at NOW
    history = simulated(
        shares, NOW - 45 * DAY, NOW, ("HN-1", drop_at, NOW + 1, 0.55), random.Random(12)
    )
    units = {"HN-1": "U1", "HN-2": "U1"}
    # A worker that never stopped, evaluating every hour for the last ten days ...
    steady, sent = catch_up(history, RuleBook(), units, NOW, replay_hours=10 * DAY)
    # ... and one that (re)started at NOW, rebuilding from the last week.
    restarted, replayed = catch_up(history, RuleBook(), units, NOW)

    def open_alerts(tracks: dict[tuple[str, str], Track]) -> dict[tuple[str, str], str]:
        return {
            k: t.alert.alert_id
            for k, t in tracks.items()
            if t.alert is not None and t.alert.state != RESOLVED
        }

    assert open_alerts(steady) == open_alerts(restarted)
    assert ("HN-1", "credible_drop") in open_alerts(steady)
    # Every alert raised since the drop, with the same id in both.
    ids = {c.alert.alert_id for c in sent if c.kind == "raised" and c.alert.raised_hour >= drop_at}
    assert ids and ids <= {c.alert.alert_id for c in replayed if c.kind == "raised"}


def check_alert_store(wh: Any) -> None:
    """On either engine, like :func:`check_office_hours`."""
    from datetime import UTC, datetime

    from warehouse.alerts import ChangeRow, current, record

    now = datetime(2026, 3, 2, tzinfo=UTC)
    raised = ChangeRow(
        "a1",
        "HN-1",
        "credible_drop",
        "raised",
        "raised",
        NOW,
        NOW,
        "hailong",
        "",
        {"window_share": 0.55},
    )
    record(wh, [raised], now)
    record(wh, [raised], now)  # the same hour evaluated again after a restart
    assert wh.execute("SELECT count() FROM alert_changes FINAL") == [(1,)]
    (only,) = current(wh)
    assert (only.alert_id, only.state, only.numbers) == ("a1", "raised", {"window_share": 0.55})

    def then(state: str, hour: int, by: str, **more: Any) -> None:
        """The alert's next change, recorded."""
        record(wh, [raised._replace(kind=state, state=state, hour=hour, by=by, **more)], now)

    then("acknowledged", NOW + 1, "chair@HN-1", comment="on it")
    (only,) = current(wh)
    assert (only.state, only.acknowledged_by, only.comment) == (
        "acknowledged",
        "chair@HN-1",
        "on it",
    )
    # What a restarted engine reads back: the open alert, the person's action, and the
    # hour of its own latest change.
    from streams.alert_engine import Action, AlertEngine

    (stored,) = AlertEngine.stored_open(wh)
    assert (
        stored.alert_id,
        stored.office_id,
        stored.rule,
        stored.state,
        stored.raised_hour,
        stored.acknowledged_by,
    ) == ("a1", "HN-1", "credible_drop", "acknowledged", NOW, "chair@HN-1")
    assert AlertEngine.actions(wh, NOW) == [
        Action("a1", "acknowledged", NOW + 1, "chair@HN-1", "on it")
    ]
    assert AlertEngine.actions(wh, NOW + 2) == []
    assert AlertEngine.engine_done(wh) == NOW
    then("resolved", NOW + 5, "hailong", numbers={"window_share": 0.84})
    assert AlertEngine.engine_done(wh) == NOW + 5
    assert AlertEngine.stored_open(wh) == []
    assert current(wh) == []
    (done,) = current(wh, open_only=False)
    assert done.state == "resolved" and done.numbers == {"window_share": 0.84}


def test_alert_changes_merge_and_the_view_shows_each_alert_as_it_stands(chdb_schema: Any) -> None:
    check_alert_store(chdb_schema)


def check_live_reads(wh: Any) -> None:
    """The engine's live rules on either engine (chdb here, the server in
    tests/integration/test_alert_store.py): its reads of the registry, device_seen,
    quarantine, dead letters and raw ratings, on a fixed Wednesday 10:30 in Hanoi."""
    import json as _json
    import uuid
    from datetime import UTC, datetime, timedelta

    from hailong.settings import load_settings
    from streams.alert_engine import AlertEngine
    from streams.ingest import DEAD_LETTER_COLUMNS, DEAD_LETTERS_TABLE
    from tests.events import kiosk_raw
    from warehouse import device_health, devices, kiosk

    now = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)
    us = int(now.timestamp() * 1e6)
    devices.register(wh, "K-1", "kiosk", "HN-1", by="t", valid_from=now - timedelta(days=60))
    devices.register(wh, "K-2", "kiosk", "HN-2", by="t", valid_from=now - timedelta(days=2))
    wh.insert("device_seen", device_health.SEEN_COLUMNS, [("K-2", "HN-2", "kiosk", us, us, 0.0)])

    def rating(office: str, device: str, minutes_ago: int, value: int) -> tuple[Any, ...]:
        return kiosk_raw(
            office, device, now - timedelta(minutes=minutes_ago), value, offset=minutes_ago
        )

    # HN-1: 40 ratings, the latest 30 of them 20 "very dissatisfied"; HN-2: 40 from K-2.
    wh.insert(
        kiosk.RAW_TABLE,
        kiosk.RAW_COLUMNS,
        [rating("HN-1", "K-1", 100 + i, 5) for i in range(10)]
        + [rating("HN-1", "K-1", i, 1 if i < 20 else 5) for i in range(30)]
        + [rating("HN-2", "K-2", i, 5) for i in range(40)],
    )
    wh.insert(
        "quarantine",
        QUARANTINE,
        [
            (
                "k",
                0,
                i,
                "kiosk",
                uuid.uuid4(),
                "HN-1",
                now,
                us,
                us,
                None,
                _json.dumps({"device_id": "K-1", "office_id": "HN-1"}),
                "bad signature",
                now,
                us,
                1,
            )
            for i in range(25)
        ],
    )

    def dead(partition: int, offset: int, device: str, office: str) -> tuple[Any, ...]:
        raw = _json.dumps({"device_id": device, "office_id": office})
        return ("k", partition, offset, None, raw, "bad", now, us, 1)

    wh.insert(
        DEAD_LETTERS_TABLE,
        DEAD_LETTER_COLUMNS,
        [dead(0, i, f"X-{i % 2}", "HN-9") for i in range(50)]
        # an office nobody registered, as an attacker names it: under "unregistered"
        + [dead(1, i, "X", "<b>HN</b>") for i in range(30)],
    )
    # K-1: 25 of its presses of the last 8 hours flagged misuse.
    wh.insert(
        "kiosk_misuse_flags",
        KIOSK_MISUSE,
        [(uuid.uuid4(), "HN-1", "K-1", us - i * 60_000_000, 1, 1) for i in range(25)],
    )
    engine = AlertEngine(load_settings())
    _, changes = engine._live(wh, RuleBook(), {"HN-1": "U1", "HN-2": "U2", "HN-9": "U9"}, {}, now)
    got = {(c.alert.office_id, c.alert.rule): dict(c.alert.numbers) for c in changes}
    assert set(got) == {
        ("HN-1", "silent_device/K-1"),
        ("HN-1", "held_surge/K-1"),
        ("HN-1", "misuse_surge/K-1"),
        ("HN-9", "held_surge/unregistered"),
        ("HN-2", "new_devices"),
        ("unregistered", "held_surge/unregistered"),
        ("HN-1", "negative_share"),
    }, got
    assert got[("HN-1", "silent_device/K-1")]["silent_minutes"] == 180
    assert got[("HN-1", "silent_device/K-1")]["never_seen"] == 1  # device_seen has no row
    assert (
        got[("HN-1", "misuse_surge/K-1")]["misuse"],
        got[("HN-1", "misuse_surge/K-1")]["presses"],
    ) == (25, 40)
    assert got[("HN-1", "held_surge/K-1")]["held"] == 25
    # unregistered ids are one subject: an attacker's made-up ids raise one alert
    assert got[("HN-9", "held_surge/unregistered")]["held"] == 50
    assert (got[("HN-2", "new_devices")]["from_new"], got[("HN-2", "new_devices")]["n"]) == (40, 40)
    assert (got[("HN-1", "negative_share")]["negative"], got[("HN-1", "negative_share")]["n"]) == (
        20,
        30,
    )


def test_the_live_rules_read_on_the_current_engine(chdb_schema: Any) -> None:
    check_live_reads(chdb_schema)
