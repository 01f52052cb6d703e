"""The alert engine (issue 14): what the stream worker runs on a timer to turn what it
landed into alerts, and to send them.

One :meth:`AlertEngine.run_once`:

1. **Reads** the rule book (the latest loaded by ``hailong alerts rules load``, else the
   defaults), each office's unit, the landed hourly counts (``office_hours``), and the
   people's actions on alerts (acknowledged, resolved, snoozed: ``hailong alerts``).
2. **Evaluates** every complete hour since its last run (``streams/alerting.py``): the
   hourly rules (credible drop, index below, volume drop and surge, silent office,
   kiosk-vs-anonymous gap). Then the *live* rules, which look at the present rather
   than at hours: a device silent in office hours, a device's presses flagged misuse, a
   device's events held (quarantined or dead-lettered), the share of ratings from new
   devices, the negative share of each office's latest ratings.
3. **Records** every change in ``alert_changes`` (ClickHouse: the alerts' truth).
4. **Delivers** each recorded change not yet delivered, to ``satisfaction.alerts.v1``
   and to each immediate route of the routing table (signed webhook, e-mail); once a day
   (``alert_digest_hour``, Hanoi time) the previous day's digest to each digest route.
   Each delivery leaves a row in ``alert_deliveries``; a change without its row is sent
   again on the next run, so a receiver down for an hour gets it afterwards.

**Restarts.** A new engine (a restarted worker) rebuilds its tracks by evaluating the
last ``REPLAY_HOURS`` again (``catch_up``), with the people's actions applied at their
hours; alerts raised before that and still open, and open alerts of the live rules, are
taken from the store. Alert ids are derived from (office, rule, hour raised), and a
replayed change is recorded only when its hour is after the engine's last recorded
one: a restart neither loses nor duplicates an open alert.
"""

from __future__ import annotations

import bisect
import json
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from hailong.clock import SYSTEM, Clock
from hailong.kafka import WORKER, make_producer
from hailong.settings import Settings
from streams.alert_life import (
    RESOLVED,
    Alert,
    AlertError,
    Change,
    Policy,
    Track,
    acknowledge,
    resolve,
    snooze,
    step,
)
from streams.alert_notify import AlertMessage, Route, RoutingTable, digest
from streams.alert_rules import (
    Finding,
    RuleBook,
    held_surge,
    misuse_surge,
    negative_share,
    new_devices,
    silent_device,
)
from streams.alert_send import Mailer, SendError, post_webhook
from streams.alerting import LOCAL, REPLAY_HOURS, evaluate, office_hour, office_hours
from warehouse import devices
from warehouse.alerts import ChangeRow, record
from warehouse.client import Warehouse
from warehouse.registry import office_units

log = logging.getLogger(__name__)

LIVE_RULES = ("silent_device", "misuse_surge", "held_surge", "new_devices", "negative_share")
# Days over which a device's usual pace (events per office hour) is measured.
RATE_DAYS = 28
# Hours of counts the hourly rules look back over, beyond the hour evaluated: the longest
# baseline (30 days) and window (120 h) of the default rules, with room to spare.
LOOKBACK_HOURS = 24 * 36


def base_rule(rule: str) -> str:
    """A device's rule carries its device after a slash: ``silent_device/K-1``."""
    return rule.split("/", 1)[0]


@dataclass(frozen=True)
class Action:
    """A person's change of an alert, as ``hailong alerts`` recorded it."""

    alert_id: str
    kind: str  # acknowledged | resolved | snoozed
    hour: int
    by: str
    comment: str
    until_hour: int = 0

    @property
    def key(self) -> tuple[str, str, int, str]:
        return (self.alert_id, self.kind, self.hour, self.by)


@dataclass
class RunReport:
    """What one run did, for the worker's log and the tests."""

    evaluated_hours: int = 0
    changes: list[ChangeRow] = field(default_factory=list)
    delivered: dict[str, int] = field(default_factory=dict)
    failed: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        sent = ", ".join(f"{n} to {c}" for c, n in sorted(self.delivered.items())) or "none"
        return (
            f"alerts: {self.evaluated_hours} hours evaluated, {len(self.changes)} changes "
            f"recorded, delivered {sent}"
            + (f"; {len(self.failed)} failed: {self.failed[0]}" if self.failed else "")
        )


def _hour(at: datetime) -> int:
    return int(at.timestamp()) // 3600


def change_key(alert_id: str, kind: str, hour: int, by: str) -> str:
    return f"{alert_id}/{kind}/{hour}/{by}"


def load_routes(path: Path) -> RoutingTable:
    """The routing table file (``hailong alerts routes load``); none: no routes."""
    if not path.exists():
        return RoutingTable()
    return RoutingTable.model_validate_json(path.read_bytes())


def apply(track: Track, action: Action) -> Track:
    """A person's action on the track's alert (ignored when it is not that alert, or no
    longer applies: e.g. acknowledged after it resolved itself)."""
    if track.alert is None or track.alert.alert_id != action.alert_id:
        return track
    try:
        if action.kind == "acknowledged":
            return acknowledge(track, action.by, action.comment, action.hour)[0]
        if action.kind == "resolved":
            return resolve(track, action.by, action.comment, action.hour)[0]
        if action.kind == "snoozed":
            return snooze(track, action.until_hour, action.by, action.hour)[0]
    except AlertError:
        return track
    return track


def apply_all(
    tracks: dict[tuple[str, str], Track],
    actions: Iterable[Action],
    applied: set[tuple[str, str, int, str]],
) -> dict[tuple[str, str], Track]:
    """Apply each action not in ``applied`` to the track of its alert; note it there."""
    for action in actions:
        if action.key in applied:
            continue
        applied.add(action.key)
        for k, track in tracks.items():
            if track.alert is not None and track.alert.alert_id == action.alert_id:
                tracks[k] = apply(track, action)
    return tracks


class AlertEngine:
    """The engine of one worker. Not thread-safe: the worker calls :meth:`run_once` from
    one thread at a time (``streams/app.py``)."""

    def __init__(
        self,
        settings: Settings,
        clock: Clock = SYSTEM,
        *,
        producer: Any | None = None,
        post: Callable[[str, bytes, str, int], int] = post_webhook,
    ) -> None:
        self.settings = settings
        self.clock = clock
        self.post = post
        self._producer = producer
        self.tracks: dict[tuple[str, str], Track] | None = None
        self.last_hour = 0
        self.applied: set[tuple[str, str, int, str]] = set()

    # --- reads -------------------------------------------------------------------------

    @staticmethod
    def rulebook(wh: Warehouse) -> RuleBook:
        rows = wh.execute("SELECT body FROM alert_rulebooks ORDER BY loaded_at DESC LIMIT 1")
        return RuleBook.model_validate_json(rows[0][0]) if rows else RuleBook()

    @staticmethod
    def units(wh: Warehouse) -> dict[str, str]:
        return office_units(wh)

    @staticmethod
    def actions(wh: Warehouse, since_hour: int) -> list[Action]:
        rows = wh.execute(
            "SELECT alert_id, kind, toUInt32(hour), by, comment, numbers FROM alert_changes "
            "FINAL WHERE kind IN ('acknowledged', 'resolved', 'snoozed') "
            "AND by NOT IN ('hailong', 'recovered') AND hour >= toDateTime(%(s)s, 'UTC') "
            "ORDER BY hour, recorded_at",
            {"s": since_hour * 3600},
        )
        return [
            Action(
                a,
                k,
                int(h) // 3600,
                by,
                c,
                int(json.loads(n).get("until_hour", 0)) if k == "snoozed" else 0,
            )
            for a, k, h, by, c, n in rows
        ]

    @staticmethod
    def stored_open(wh: Warehouse) -> list[Alert]:
        rows = wh.execute(
            "SELECT alert_id, rule, office_id, current_state, toUInt32(raised_at), "
            "latest_numbers, toUInt32(last_change_at), acknowledged_by, latest_comment "
            "FROM alerts WHERE current_state != 'resolved'"
        )
        return [
            Alert(a, r, o, s, int(raised) // 3600, json.loads(n), int(last) // 3600, by, c)
            for a, r, o, s, raised, n, last, by, c in rows
        ]

    @staticmethod
    def engine_done(wh: Warehouse) -> int:
        """The hour of the engine's latest recorded change (0: none)."""
        ((h,),) = wh.execute(
            "SELECT toUInt32(max(hour)) FROM alert_changes WHERE by IN ('hailong', 'recovered')"
        )
        return int(h) // 3600

    # --- one run -----------------------------------------------------------------------

    def run_once(self) -> RunReport:
        """Evaluate, record, deliver (see the module's docstring)."""
        report = RunReport()
        now = self.clock.now()
        last_complete = _hour(now) - 1
        with Warehouse(self.settings) as wh:
            book, unit_of = self.rulebook(wh), self.units(wh)
            first = self.tracks is None
            since = last_complete - REPLAY_HOURS if first else self.last_hour + 1
            tracks = dict(self.tracks or {})
            done = self.engine_done(wh) if first else 0
            if first:
                for a in self.stored_open(wh):
                    if a.raised_hour < since or base_rule(a.rule) in LIVE_RULES:
                        tracks[(a.office_id, a.rule)] = Track(streak=1, alert=a)
            hours = office_hours(wh, since - LOOKBACK_HOURS, last_complete)
            # People's actions not applied yet (kept apart until the run is recorded, so a
            # failed run applies them again next time).
            applied = set(self.applied)
            actions = [
                a for a in self.actions(wh, last_complete - REPLAY_HOURS) if a.key not in applied
            ]
            made: list[tuple[int, Change]] = []
            for h in range(since, last_complete + 1):
                tracks = apply_all(tracks, [a for a in actions if a.hour <= h], applied)
                tracks, changed = evaluate(hours, book, unit_of, tracks, h)
                made += [(h, c) for c in changed]
                report.evaluated_hours += 1
            tracks = apply_all(tracks, actions, applied)
            tracks, changed = self._live(wh, book, unit_of, tracks, now)
            made += [(_hour(now), c) for c in changed]
            rows = [self._row(h, c) for h, c in made if h > done]
            record(wh, rows, now)
            report.changes = rows
            self.tracks, self.last_hour = tracks, max(last_complete, since - 1)
            self.applied = applied
            self.deliver(wh, unit_of, now, report)
        return report

    @staticmethod
    def _row(hour: int, c: Change) -> ChangeRow:
        a = c.alert
        numbers = dict(a.numbers)
        if c.kind == "snoozed":
            numbers["until_hour"] = float(c.extra.get("until_hour", 0))  # type: ignore[arg-type]
        return ChangeRow(
            a.alert_id,
            a.office_id,
            a.rule,
            c.kind,
            a.state,
            hour,
            a.raised_hour,
            c.by,
            str(c.extra.get("comment") or c.extra.get("why") or ""),
            numbers,
        )

    # --- the live rules ----------------------------------------------------------------

    def _live(
        self,
        wh: Warehouse,
        book: RuleBook,
        unit_of: Mapping[str, str],
        tracks: dict[tuple[str, str], Track],
        now: datetime,
    ) -> tuple[dict[tuple[str, str], Track], list[Change]]:
        """Evaluate the live rules now; a live rule's track steps once per run, and
        resolves as soon as a run finds it no longer holding."""
        found: list[Finding] = []
        now_us = int(now.timestamp() * 1_000_000)
        keys = devices.keys(wh)
        first_us: dict[str, int] = {}
        for k in keys:
            first_us[k.device_id] = min(first_us.get(k.device_id, k.valid_from_us), k.valid_from_us)
        active = [k for k in keys if not k.revoked_at_us and k.valid_at(now_us)]
        seen = dict(
            wh.execute("SELECT device_id, max(last_seen_us) FROM device_seen GROUP BY device_id")
        )
        registered = {k.device_id: k for k in active}
        # Each device's events over the rate's days (its usual pace) and in the misuse
        # window; the office hours of those days, to turn a count into a pace.
        ms = book.defaults.misuse_surge
        sent = {
            d: (int(total), int(recent))
            for d, total, recent in wh.execute(
                DEVICE_EVENTS_SQL,
                {"since": _ts(now, 24 * RATE_DAYS), "window": _ts(now, ms.window_hours)},
            )
        }
        hours = [h for h in range(_hour(now) - 24 * RATE_DAYS, _hour(now)) if office_hour(h)]
        for k in active:
            if k.kind in ("kiosk", "camera") and k.office_id:
                rules = book.for_office(k.office_id, unit_of.get(k.office_id, ""))
                since_h = max(_hour(now) - 24 * RATE_DAYS, first_us[k.device_id] // 3_600_000_000)
                office_hours_known = len(hours) - bisect.bisect_left(hours, since_h)
                pace = sent.get(k.device_id, (0, 0))[0] / max(office_hours_known, 1)
                f = silent_device(
                    k.office_id,
                    k.device_id,
                    silent_minutes(int(seen.get(k.device_id, 0)), now),
                    pace,
                    k.device_id not in seen,
                    rules.silent_device,
                )
                found += [f] if f else []
        for device, office, misuse in wh.execute(
            MISUSE_SQL, {"since_us": now_us - ms.window_hours * 3_600_000_000}
        ):
            rules = book.for_office(office, unit_of.get(office, ""))
            f = misuse_surge(
                office, device, int(misuse), sent.get(device, (0, 0))[1], rules.misuse_surge
            )
            found += [f] if f else []
        window = book.defaults.held_surge.window_hours
        held: dict[tuple[str, str], int] = {}
        for device, office, n in wh.execute(HELD_SQL, {"since": _ts(now, window)}):
            # Ids the registry does not know are one subject, whatever an attacker makes up.
            key = registered.get(device)
            name = device if key is not None else "unregistered"
            office_id = key.office_id if key is not None and key.office_id else office
            if office_id not in unit_of:  # bytes may name anything: only known offices
                office_id = "unregistered"
            held[(office_id, name)] = held.get((office_id, name), 0) + int(n)
        for (office_id, name), n in held.items():
            rules = book.for_office(office_id, unit_of.get(office_id, ""))
            f = held_surge(office_id, name, n, rules.held_surge)
            found += [f] if f else []
        nd = book.defaults.new_devices
        for office, from_new, total in wh.execute(
            NEW_DEVICES_SQL,
            {"since": _ts(now, nd.window_hours), "new_us": now_us - nd.new_days * 86_400_000_000},
        ):
            rules = book.for_office(office, unit_of.get(office, ""))
            f = new_devices(office, int(from_new), int(total), rules.new_devices)
            found += [f] if f else []
        ns = book.defaults.negative_share
        latest: dict[str, list[bool]] = {}
        for office, value, scale in wh.execute(
            NEGATIVE_SQL.format(n=int(ns.last_n)), {"since": _ts(now, 24 * 7)}
        ):
            latest.setdefault(office, []).append(int(value) * 2 < int(scale) + 1)
        for office, newest_first in latest.items():
            rules = book.for_office(office, unit_of.get(office, ""))
            f = negative_share(office, newest_first[::-1], rules.negative_share)
            found += [f] if f else []
        return self._step_live(
            tracks,
            found,
            _hour(now),
            lambda office, rule: (
                getattr(book.for_office(office, unit_of.get(office, "")), rule).repeat_hours
            ),
        )

    @staticmethod
    def _step_live(
        tracks: dict[tuple[str, str], Track],
        found: list[Finding],
        now_hour: int,
        repeat_hours: Callable[[str, str], int] = lambda _o, _r: 24,
    ) -> tuple[dict[tuple[str, str], Track], list[Change]]:
        """Step each live rule's track once: raised at once, resolved by the first run
        that finds it no longer holding, reminded every ``repeat_hours(office, rule)``."""
        holding = {(f.office_id, f.rule): f for f in found}
        keys = set(holding) | {k for k, t in tracks.items() if base_rule(k[1]) in LIVE_RULES}
        changes: list[Change] = []
        for key in sorted(keys):
            live = Policy(
                min_hours=1, recover_hours=1, repeat_hours=repeat_hours(key[0], base_rule(key[1]))
            )
            track = tracks.get(key, Track())
            finding = holding.get(key)
            if finding is None and (track.alert is None or track.alert.state == RESOLVED):
                continue
            # a raised live alert is not raised again within its hour
            track, changed = step(track, finding, now_hour, live, key[1], key[0])
            tracks[key] = track
            changes += changed
        return tracks, changes

    # --- delivery ----------------------------------------------------------------------

    def producer(self) -> Any:
        if self._producer is None:
            self._producer = make_producer(self.settings, WORKER)
        return self._producer

    def deliver(
        self, wh: Warehouse, unit_of: Mapping[str, str], now: datetime, report: RunReport
    ) -> None:
        """Send every change of the last 2 days not yet sent to each of its channels."""
        table = load_routes(self.settings.alert_routes_path)
        sent = {
            (k, c)
            for k, c in wh.execute(
                "SELECT change_key, channel FROM alert_deliveries WHERE sent_at >= "
                "toDateTime(%(s)s, 'UTC')",
                {"s": _ts(now, 24 * 7)},
            )
        }
        done: list[tuple[str, str, datetime]] = []
        pending = stored_messages(wh, unit_of, _ts(now, 48), int(now.timestamp()) + 3600)
        to_kafka = [(k, m) for k, m in pending if (k, "kafka") not in sent]
        if to_kafka:
            confirmed: list[str] = []
            errors: list[str] = []

            def report_of(key: str) -> Callable[[Any, Any], None]:
                def on_delivery(err: Any, _msg: Any) -> None:
                    if err is None:
                        confirmed.append(key)
                    else:
                        errors.append(str(err))

                return on_delivery

            producer = self.producer()
            for key, m in to_kafka:
                producer.produce(
                    self.settings.topics.alerts,
                    key=m.office_id.encode(),
                    value=m.to_json(),
                    on_delivery=report_of(key),
                )
            producer.flush(30)
            # Only what Kafka confirmed counts as sent; the rest goes again next run.
            done += [(k, "kafka", now) for k in confirmed]
            if confirmed:
                report.delivered["kafka"] = len(confirmed)
            if len(confirmed) < len(to_kafka):
                report.failed.append(
                    f"{len(to_kafka) - len(confirmed)} alert messages not "
                    f"confirmed by Kafka{': ' + errors[0] if errors else ''}"
                )
        down: set[str] = set()  # a route that failed once is not tried again this run
        for key, m in pending:
            for route in table.routes_for(m.office_id, m.unit_code, m.rule):
                if (
                    route.mode != "immediate"
                    or (key, route.channel) in sent
                    or route.channel in down
                ):
                    continue
                if self._send(route, m, now, report):
                    done.append((key, route.channel, now))
                else:
                    down.add(route.channel)
        self._digests(wh, table, unit_of, now, sent, done, report)
        if done:
            wh.insert("alert_deliveries", ("change_key", "channel", "sent_at"), done)

    def _send(self, route: Route, m: AlertMessage, now: datetime, report: RunReport) -> bool:
        try:
            if route.webhook:
                secret = route.secret.get_secret_value() if route.secret else ""
                self.post(route.webhook, m.to_json(), secret, int(now.timestamp()))
            if route.email:
                self.mailer().send(route.email, subject(m), text(m))
        except SendError as exc:
            report.failed.append(str(exc))
            log.warning("alert %s not delivered to %s: %s", m.alert_id, route.channel, exc)
            return False
        report.delivered[route.channel] = report.delivered.get(route.channel, 0) + 1
        return True

    def mailer(self) -> Mailer:
        s = self.settings
        if not s.smtp_host:
            raise SendError("no SMTP server configured (HAILONG_SMTP_HOST)")
        return Mailer(
            s.smtp_host,
            s.smtp_port,
            s.smtp_from,
            s.smtp_starttls,
            s.smtp_user,
            s.smtp_password.get_secret_value(),
        )

    def _digests(
        self,
        wh: Warehouse,
        table: RoutingTable,
        unit_of: Mapping[str, str],
        now: datetime,
        sent: set[tuple[str, str]],
        done: list[tuple[str, str, datetime]],
        report: RunReport,
    ) -> None:
        """After ``alert_digest_hour`` (Hanoi), yesterday's digest to each digest route."""
        local = now.astimezone(LOCAL)
        if local.hour < self.settings.alert_digest_hour:
            return
        day = (local - timedelta(days=1)).date()
        start = datetime(day.year, day.month, day.day, tzinfo=LOCAL)
        routes = [r for r in table.routes if r.mode == "digest"]
        key = f"digest/{day.isoformat()}"
        routes = [r for r in routes if (key, r.channel) not in sent]
        if not routes:
            return
        messages = [
            m
            for _, m in stored_messages(
                wh, unit_of, int(start.timestamp()), int(start.timestamp()) + 86_400
            )
        ]
        for route in routes:
            mine = [
                m for m in messages if route in table.routes_for(m.office_id, m.unit_code, m.rule)
            ]
            if not mine:
                continue  # a quiet day: no mail saying nothing
            title, body = digest(mine, day.isoformat())
            try:
                if route.email:
                    self.mailer().send(route.email, title, body)
                if route.webhook:
                    payload = json.dumps(
                        {
                            "schema": "alert_digest/1",
                            "day": day.isoformat(),
                            "changes": [json.loads(m.to_json()) for m in mine],
                        },
                        ensure_ascii=False,
                    ).encode()
                    secret = route.secret.get_secret_value() if route.secret else ""
                    self.post(route.webhook, payload, secret, int(now.timestamp()))
            except SendError as exc:
                report.failed.append(str(exc))
                continue
            done.append((key, route.channel, now))
            report.delivered[route.channel] = report.delivered.get(route.channel, 0) + 1


def stored_messages(
    wh: Warehouse, unit_of: Mapping[str, str], first_s: int, end_s: int
) -> list[tuple[str, AlertMessage]]:
    """Each change recorded in ``alert_changes`` with its hour in [first_s, end_s), as
    its ``alert/1`` message with its delivery key, oldest first."""
    rows = wh.execute(
        "SELECT alert_id, office_id, rule, kind, state, toUInt32(hour), "
        "toUInt32(raised_hour), by, comment, numbers FROM alert_changes FINAL "
        "WHERE hour >= toDateTime(%(a)s, 'UTC') AND hour < toDateTime(%(b)s, 'UTC') "
        "ORDER BY hour, alert_id, kind",
        {"a": first_s, "b": end_s},
    )
    return [
        (
            change_key(a, kind, int(h) // 3600, by),
            AlertMessage(
                alert_id=a,
                office_id=o,
                unit_code=unit_of.get(o, ""),
                rule=r,
                kind=kind,
                state=state,
                hour=datetime.fromtimestamp(int(h), UTC),
                raised_at=datetime.fromtimestamp(int(raised), UTC),
                by=by,
                comment=comment,
                numbers=json.loads(numbers),
            ),
        )
        for a, o, r, kind, state, h, raised, by, comment, numbers in rows
    ]


def _ts(now: datetime, hours_back: int) -> int:
    return int(now.timestamp()) - hours_back * 3600


def silent_minutes(last_seen_us: int, now: datetime) -> float | None:
    """Minutes a device has been silent in office hours now (None: not office hours);
    ``warehouse/devices.py`` ``silent_seconds``."""
    seconds = devices.silent_seconds(last_seen_us, now)
    return None if seconds is None else seconds / 60


def subject(m: AlertMessage) -> str:
    return f"[Hailong] {m.office_id}: {m.rule} {m.kind}"


def text(m: AlertMessage) -> str:
    numbers = "\n".join(f"  {k}: {v:.4g}" for k, v in sorted(m.numbers.items()))
    return (
        f"Office {m.office_id} (unit {m.unit_code or '?'}): alert {m.rule} {m.kind} "
        f"by {m.by} at {m.hour:%Y-%m-%d %H:00} UTC.\n"
        + (f"Comment: {m.comment}\n" if m.comment else "")
        + f"Raised at {m.raised_at:%Y-%m-%d %H:00} UTC. The numbers behind it:\n{numbers}\n"
        f"Alert id: {m.alert_id}\n"
        "Acknowledge: hailong alerts ack --alert-id <id> --by <you> --comment <text>\n"
    )


# A device's events held in the window: quarantined (with the office the worker read) or
# dead-lettered (the office the bytes name, if any), by the device id the bytes name
# (a regular expression: ClickHouse 18.16 has no JSON parser that allows spaces).
HELD_SQL = r"""
SELECT device, office, count() AS held
FROM
(
    SELECT extract(raw, '"device_id"\\s*:\\s*"([^"]{1,64})"') AS device,
           office_id AS office
    FROM quarantine FINAL WHERE quarantined_at >= toDateTime(%(since)s, 'UTC')
    UNION ALL
    SELECT extract(raw, '"device_id"\\s*:\\s*"([^"]{1,64})"') AS device,
           extract(raw, '"office_id"\\s*:\\s*"([^"]{1,64})"') AS office
    FROM dead_letters FINAL WHERE rejected_at >= toDateTime(%(since)s, 'UTC')
) AS held_events
GROUP BY device, office
ORDER BY held DESC
LIMIT 1000
"""
# Each kiosk's and camera's events since `since` (raw rows, no FINAL: a pace, where a
# copy not merged yet barely matters), and since `window`.
DEVICE_EVENTS_SQL = """
SELECT device, count(), countIf(at >= toDateTime(%(window)s, 'UTC'))
FROM
(
    SELECT device_id AS device, occurred_at AS at FROM kiosk_ratings_raw
    WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
    UNION ALL
    SELECT camera_id AS device, observed_at AS at FROM camera_observations_raw
    WHERE observed_at >= toDateTime(%(since)s, 'UTC')
) AS sent
GROUP BY device
"""
# Each kiosk's presses flagged misuse since `since_us`.
MISUSE_SQL = """
SELECT device_id, any(office_id), countIf(misuse = 1) AS flagged
FROM kiosk_misuse_flags FINAL
WHERE occurred_at_us >= %(since_us)s
GROUP BY device_id
HAVING flagged > 0
"""
# Each office's counted kiosk ratings in the window, and how many came from a device whose
# first key is newer than new_us.
NEW_DEVICES_SQL = """
SELECT office_id, countIf(first_us >= %(new_us)s AND first_us > 0), count()
FROM
(
    SELECT office_id, device_id FROM kiosk_ratings_raw FINAL
    WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
) AS rated
ANY LEFT JOIN
(
    SELECT device_id, min(valid_from_us) AS first_us FROM devices GROUP BY device_id
) AS registered USING (device_id)
GROUP BY office_id
"""
# Each office's latest ratings of the last week, newest first ({n} of them).
NEGATIVE_SQL = """
SELECT office_id, value, scale FROM kiosk_ratings_raw FINAL
WHERE occurred_at >= toDateTime(%(since)s, 'UTC')
ORDER BY office_id, occurred_at_us DESC
LIMIT {n} BY office_id
"""


def act(
    wh: Warehouse,
    alert_id: str,
    kind: str,
    by: str,
    comment: str,
    now: datetime,
    until: datetime | None = None,
) -> ChangeRow:
    """A person acknowledges, resolves or snoozes an alert (``hailong alerts``): checked
    against the alert as it stands, recorded in ``alert_changes``; the engine applies it
    on its next run and delivers it (topic, routes) like its own changes."""
    rows = wh.execute(
        "SELECT office_id, rule, current_state, toUInt32(raised_at), latest_numbers "
        "FROM alerts WHERE alert_id = %(a)s",
        {"a": alert_id},
    )
    if not rows:
        raise AlertError(f"no alert {alert_id}")
    office_id, rule, state, raised, numbers = rows[0]
    if not by.strip():
        raise AlertError("say who you are (--by)")
    if kind == "acknowledged" and state != "raised":
        raise AlertError(f"only a raised alert can be acknowledged; {alert_id} is {state}")
    if kind in ("resolved", "snoozed") and state == RESOLVED:
        raise AlertError(f"{alert_id} is already resolved")
    hour = _hour(now)
    values = json.loads(numbers)
    if kind == "snoozed":
        if until is None or _hour(until) <= hour:
            raise AlertError("snooze until a later hour (--until)")
        values["until_hour"] = float(_hour(until))
    new_state = {"acknowledged": "acknowledged", "resolved": RESOLVED}.get(kind, state)
    row = ChangeRow(
        alert_id, office_id, rule, kind, new_state, hour, int(raised) // 3600, by, comment, values
    )
    record(wh, [row], now)
    return row
