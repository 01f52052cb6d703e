"""Issue 14's alert engine on the real services: ClickHouse, the Kafka broker (the
``satisfaction.alerts.v1`` topic), a real SMTP server (aiosmtpd) and a local HTTP receiver
that checks each webhook's signature.

A small deterministic city on a fixed clock (no test depends on today's date): office
HN-A's satisfied share falls from 85 % to 40 % over its last 8 hours; its kiosk K-A is
registered and has sent nothing today. One run raises the credible drop, index below and
silent kiosk alerts, publishes them, mails and posts them; a second engine (a restarted
worker) finds the same open alerts and sends nothing again; a person acknowledges one;
the kiosk speaks and its alert resolves itself; good hours come back and the drop
resolves itself; the next morning the digest goes out, once. Then the same with a real
worker process, killed and started again."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest

from hailong.clock import TestingClock
from hailong.kafka import WORKER, make_producer
from hailong.registry import Office, Unit
from hailong.settings import Settings
from infra.worker import running_worker
from streams.alert_engine import AlertEngine
from tests.conftest import read_topic, reconfigured, wait_until
from tests.serving import smtp_server, webhook_receiver
from warehouse import device_health, devices
from warehouse.alerts import act, current
from warehouse.client import Warehouse
from warehouse.kiosk import HOURLY_COLUMNS as KIOSK_HOURLY
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

# Wednesday 4 March 2026, 10:30 in Hanoi (03:30 UTC).
NOW = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)
SECRET = "webhook-secret-of-hn-a"  # noqa: S105 - a test's


@pytest.fixture
def smtp() -> Iterator[tuple[int, list[Any]]]:
    with smtp_server() as server:
        yield server


def hourly(office: str, first: int, last: int, n: int, sat: int) -> list[tuple[Any, ...]]:
    return [
        (office, datetime.fromtimestamp(h * 3600, UTC), n, sat, 0, 1)
        for h in range(first, last + 1)
    ]


def city(wh: Warehouse, now_hour: int) -> None:
    """HN-A (unit U-A): 30 days at 85 %, then its last 8 hours at 40 %; HN-B steady."""
    units = [
        Unit(code, code, "Phường", "commune", "01", date(2025, 7, 1), None)
        for code in ("U-A", "U-B")
    ]
    load_registry(
        wh, units, [Office("HN-A", "Office A", units[0]), Office("HN-B", "Office B", units[1])]
    )
    cols = KIOSK_HOURLY
    wh.insert("kiosk_hourly", cols, hourly("HN-A", now_hour - 30 * 24, now_hour - 8, 20, 17))
    wh.insert("kiosk_hourly", cols, hourly("HN-A", now_hour - 7, now_hour, 20, 8))
    wh.insert("kiosk_hourly", cols, hourly("HN-B", now_hour - 30 * 24, now_hour, 20, 17))


def routes(path: Path, hook: str) -> Path:
    path.write_text(
        json.dumps(
            {
                "routes": [
                    {
                        "match": "HN-A",
                        "email": ["head@hn-a.example"],
                        "webhook": hook,
                        "secret": SECRET,
                    },
                    {"match": "*", "email": ["city@hanoi.example"], "mode": "digest"},
                ]
            }
        )
    )
    return path


def test_the_engine_raises_sends_survives_a_restart_and_resolves(
    settings: Settings, tmp_path: Path, smtp: tuple[int, list[Any]]
) -> None:
    port, envelopes = smtp
    clock = TestingClock(NOW)
    with webhook_receiver(SECRET, clock.time) as (hook, posted):
        check_engine(settings, tmp_path, clock, port, envelopes, hook, posted)


def check_engine(
    settings: Settings,
    tmp_path: Path,
    clock: TestingClock,
    port: int,
    envelopes: list[Any],
    hook: str,
    posted: list[tuple[bytes, str, bool]],
) -> None:
    def mails() -> list[Any]:
        return [message_from_bytes(e.content) for e in envelopes]

    def bodies() -> list[dict[str, Any]]:
        return [json.loads(b) for b, _, ok in posted if ok]

    s = reconfigured(
        settings,
        smtp_host="127.0.0.1",
        smtp_port=port,
        alert_routes_file=routes(tmp_path / "routes.json", hook),
    )
    last_complete = int(NOW.timestamp()) // 3600 - 1
    with Warehouse(s) as wh:
        city(wh, last_complete)
        devices.register(wh, "K-A", "kiosk", "HN-A", by="test", valid_from=NOW - timedelta(days=60))

        report = AlertEngine(s, clock).run_once()
        assert not report.failed, report.failed
        opened = {(a.office_id, a.rule): a for a in current(wh)}
        assert set(opened) == {
            ("HN-A", "credible_drop"),
            ("HN-A", "index_below"),
            ("HN-A", "silent_device/K-A"),
        }, opened
        drop = opened[("HN-A", "credible_drop")]
        # the numbers behind it: the window's upper bound under the baseline's lower bound
        assert drop.numbers["window_hi"] < drop.numbers["baseline_lo"]
        assert drop.numbers["window_n"] >= 30 and drop.numbers["baseline_n"] >= 100
        assert opened[("HN-A", "silent_device/K-A")].numbers["silent_minutes"] == 180

        # delivered: the topic, the office's head by mail, the office's webhook (signed)
        on_topic = [json.loads(m.value()) for m in read_topic(s, s.topics.alerts)]
        assert sorted((m["rule"], m["kind"]) for m in on_topic) == [
            ("credible_drop", "raised"),
            ("index_below", "raised"),
            ("silent_device/K-A", "raised"),
        ]
        assert all(m["schema"] == "alert/1" and m["unit_code"] == "U-A" for m in on_topic)
        assert sorted(b["rule"] for b in bodies()) == sorted(m["rule"] for m in on_topic)
        assert all(ok for _, _, ok in posted)
        assert sorted(m["To"] for m in mails()) == ["head@hn-a.example"] * 3
        assert any("credible_drop raised" in m["Subject"] for m in mails())

        # A restarted worker: a new engine on the same hour finds the same open alerts
        # and sends nothing again.
        again = AlertEngine(s, clock).run_once()
        assert again.changes == [] and again.delivered == {}, again
        assert {(a.office_id, a.rule): a.alert_id for a in current(wh)} == {
            k: a.alert_id for k, a in opened.items()
        }
        assert len(read_topic(s, s.topics.alerts)) == 3 and len(mails()) == 3

        # A person acknowledges the drop; the engine delivers the acknowledgement and
        # sends no reminder for it.
        act(wh, drop.alert_id, "acknowledged", "chair of U-A", "staff briefed", clock.now())
        engine = AlertEngine(s, clock)
        engine.run_once()
        state = {(a.office_id, a.rule): a for a in current(wh)}
        assert state[("HN-A", "credible_drop")].state == "acknowledged"
        assert state[("HN-A", "credible_drop")].acknowledged_by == "chair of U-A"
        assert [b["kind"] for b in bodies() if b["rule"] == "credible_drop"] == [
            "raised",
            "acknowledged",
        ]

        # The kiosk speaks: its silence resolves itself on the next run.
        clock.advance(300)
        wh.insert(
            "device_seen",
            device_health.SEEN_COLUMNS,
            [("K-A", "HN-A", "kiosk", int(clock.time() * 1e6), int(clock.time() * 1e6), 0.0)],
        )
        report = engine.run_once()
        assert [(c.rule, c.kind, c.by) for c in report.changes] == [
            ("silent_device/K-A", "resolved", "hailong")
        ]
        assert report.changes[0].comment == "the numbers recovered"

        # Good hours come back: the drop and the low index resolve themselves.
        cols = KIOSK_HOURLY
        for office in ("HN-A", "HN-B"):
            wh.insert(
                "kiosk_hourly", cols, hourly(office, last_complete + 1, last_complete + 12, 20, 18)
            )
        clock.advance(12 * 3600)
        report = engine.run_once()
        resolved = sorted((c.rule, c.by) for c in report.changes if c.kind == "resolved")
        assert resolved == [("credible_drop", "hailong"), ("index_below", "hailong")]
        assert current(wh) == []

        # The next morning, 07:xx in Hanoi: yesterday's digest to the city, once.
        clock.advance(9 * 3600)
        engine.run_once()
        digests = [m for m in mails() if m["To"] == "city@hanoi.example"]
        assert len(digests) == 1 and "Hailong alerts 2026-03-04" in digests[0]["Subject"]
        body = digests[0].get_payload(decode=True).decode()
        assert "credible_drop" in body and "acknowledged" in body and "chair of U-A" in body
        engine.run_once()
        assert len([m for m in mails() if m["To"] == "city@hanoi.example"]) == 1


def test_a_worker_killed_and_started_again_neither_loses_nor_duplicates_alerts(
    settings: Settings, tmp_path: Path
) -> None:
    """The real worker's timer runs the engine; SIGKILL it, start another: the same open
    alerts, each raised once on the topic and in the store."""
    s = reconfigured(settings, alert_interval_s=1.0)
    # Both workers' engines must judge the same last complete hour: a new hour between
    # them (e.g. the first at 12:59, the second at 13:00) brings the new hour's own
    # alerts (silent offices). The test takes about a minute; start it 5 minutes or more
    # before an hour ends.
    while datetime.now(UTC).minute >= 55:
        time.sleep(5)
    now = datetime.now(UTC)  # the worker's own clock; the data is placed relative to it
    last_complete = int(now.timestamp()) // 3600 - 1
    with Warehouse(s) as wh:
        city(wh, last_complete)

        def raised() -> list[tuple[str, str]]:
            return sorted(
                (r, a)
                for a, r in wh.execute(
                    "SELECT alert_id, rule FROM alert_changes FINAL WHERE kind = 'raised'"
                )
            )

        with running_worker(s, tmp_path / "worker1.log") as first:
            wait_until(lambda: len(current(wh)) == 2, 120, "the first worker's alerts")
            before = {(a.rule, a.alert_id) for a in current(wh)}
            wait_until(
                lambda: (
                    wh.execute("SELECT count() FROM alert_deliveries FINAL WHERE channel = 'kafka'")
                    == [(2,)]
                ),
                60,
                "published",
            )
            assert {r for r, _ in before} == {"credible_drop", "index_below"}
            first.send_signal(signal.SIGKILL)
            first.wait(30)
        log2 = tmp_path / "worker2.log"
        with running_worker(s, log2):
            wait_until(
                lambda: log2.exists() and log2.read_text().count("hours evaluated") >= 2,
                120,
                "two runs of the second worker's engine",
            )
            assert {(a.rule, a.alert_id) for a in current(wh)} == before
            assert raised() == sorted(before)
            on_topic = [json.loads(m.value()) for m in read_topic(s, s.topics.alerts)]
            assert sorted(
                (m["rule"], m["alert_id"]) for m in on_topic if m["kind"] == "raised"
            ) == sorted(before)


def test_alerts_kafka_did_not_confirm_are_sent_again(settings: Settings) -> None:
    """The alerts' topic is gone (deleted by mistake): the run records its alerts and
    says it could not publish them; none counts as sent. Once the topic is back, the next
    run publishes them."""
    from hailong.kafka import admin_client
    from infra.topics import ensure_topics

    clock = TestingClock(NOW)
    last_complete = int(NOW.timestamp()) // 3600 - 1
    with Warehouse(settings) as wh:
        city(wh, last_complete)
        admin = admin_client(settings)
        for future in admin.delete_topics([settings.topics.alerts]).values():
            future.result()
        report = AlertEngine(
            settings,
            clock,
            producer=make_producer(settings, WORKER, **{"message.timeout.ms": 5000}),
        ).run_once()
        assert report.failed and "not confirmed by Kafka" in report.failed[0], report
        assert len(current(wh)) == 2  # recorded all the same
        assert wh.execute("SELECT count() FROM alert_deliveries") == [(0,)]
        ensure_topics(settings, progress=lambda _m: None)
        again = AlertEngine(settings, clock).run_once()
        assert not again.failed and again.delivered == {"kafka": 2}, again
        on_topic = {
            (json.loads(m.value())["rule"], json.loads(m.value())["kind"])
            for m in read_topic(settings, settings.topics.alerts)
        }
        assert on_topic == {("credible_drop", "raised"), ("index_below", "raised")}
