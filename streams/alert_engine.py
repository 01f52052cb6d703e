"""The alert engine (issue 14): what the stream worker runs on a timer to turn what it
landed into alerts, and to send them.

Over 400 lines on purpose: one run of the engine (replay, people's actions, record,
deliver, digest) is one sequence with one state; split, its steps would pass that state
around. The live rules are in ``alert_live.py``, the rule book in ``alert_book.py``.

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
from streams.alert_book import RuleBook
from streams.alert_life import (
    Alert,
    Change,
    Track,
    acknowledge,
    resolve,
    snooze,
)
from streams.alert_live import LIVE_RULES, base_rule, live_findings, seconds_ago, step_live
from streams.alert_notify import AlertMessage, Route, RoutingTable, digest
from streams.alert_send import Mailer, SendError, post_webhook
from streams.alerting import LOCAL, REPLAY_HOURS, evaluate, office_hours
from warehouse.alerts import AlertError, ChangeRow, hour_of, record
from warehouse.client import Warehouse
from warehouse.registry import office_units

log = logging.getLogger(__name__)

# Hours of counts the hourly rules look back over, beyond the hour evaluated: the longest
# baseline (30 days) and window (120 h) of the default rules, with room to spare.
LOOKBACK_HOURS = 24 * 36


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
        last_complete = hour_of(now) - 1
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
            made += [(hour_of(now), c) for c in changed]
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

    def _live(
        self,
        wh: Warehouse,
        book: RuleBook,
        unit_of: Mapping[str, str],
        tracks: dict[tuple[str, str], Track],
        now: datetime,
    ) -> tuple[dict[tuple[str, str], Track], list[Change]]:
        """Evaluate the live rules now (``streams/alert_live.py``); a live rule's track
        steps once per run, and resolves as soon as a run finds it no longer holding."""
        return step_live(
            tracks,
            live_findings(wh, book, unit_of, now),
            hour_of(now),
            lambda office, rule: (
                getattr(book.for_office(office, unit_of.get(office, "")), rule).repeat_hours
            ),
        )

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
                {"s": seconds_ago(now, 24 * 7)},
            )
        }
        done: list[tuple[str, str, datetime]] = []
        pending = stored_messages(wh, unit_of, seconds_ago(now, 48), int(now.timestamp()) + 3600)
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
