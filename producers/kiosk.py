"""A rating device at a counter: each press becomes a ``kiosk_rating/1`` event, stored
durably on the device first and forwarded to Kafka when Kafka can take it.

Over 400 lines on purpose: the device's spool and its forwarder belong together: the
forwarder's guarantees (nothing lost, nothing twice) are the spool's states.

Store and forward, so that no press is lost and none lands twice:

1. :meth:`KioskClient.press` builds the event and commits it to the device's spool, a
   SQLite database in WAL mode with ``synchronous=FULL`` (a committed press survives a
   killed process and a power cut). Only then is the press acknowledged to the citizen.
   The spool holds at most ``kiosk_spool_max_events`` ratings; beyond that a press is
   refused with :class:`SpoolFull`, which says so plainly.
2. The :class:`Forwarder` sends spooled events in rounds, oldest first, with
   librdkafka's no-loss settings (idempotence, ``acks=all``). An event leaves the spool
   only when its delivery report says Kafka has it.
3. An event that was sent but not confirmed (the process was killed, the broker went
   away mid-round, a delivery report carried an error) may or may not be in Kafka. It is
   sent again, as the same bytes (same ``event_id``, same ``occurred_at``, same
   signature), so a copy that did reach Kafka is a byte-identical twin, and the stream
   worker counts each ``event_id`` once (warehouse/claims.py).

The check "is it in Kafka already?" is the worker's, not the device's: a device may
only *write* the kiosk topic (infra/access.py), because reading it would show it every
office's ratings. (Until this release the device read the topic from the round's end
offsets to find its own events; a kiosk now needs no read access at all.) Within one
process librdkafka's idempotent producer already sends no copies; a copy in the topic
needs a crash or a lost delivery report, and is at most one round (``ROUND_MAX_EVENTS``).

While the broker is unreachable (for minutes or for days) nothing is sent; presses
accumulate in the spool and rounds are retried with a growing pause (at most
``retry_backoff_max_s``). The device connects with the Kafka account of its device
config (``hailong devices register``): SCRAM over TLS, write-only.
"""

from __future__ import annotations

import argparse
import json
import logging
import sqlite3
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from confluent_kafka import KafkaError, KafkaException, Producer

from hailong.clock import SYSTEM, Clock
from hailong.contract import KioskRating
from hailong.errors import HailongError
from hailong.kafka import SIMULATOR, Headers, producer_config
from hailong.settings import Settings
from hailong.signing import Signer

log = logging.getLogger("hailong.kiosk")

# A round waits this long for its delivery reports; a broker that went away mid-round
# makes the round end with its unconfirmed events left for the check of step 3.
ROUND_TIMEOUT_S = 30.0
ROUND_MAX_EVENTS = 1000


class SpoolFull(HailongError):
    """The device's spool holds its maximum of ratings; the press was not stored."""


class KioskDevice:
    """One kiosk with 3, 4 or 5 buttons, standing at a counter of an office."""

    def __init__(
        self,
        office_id: str,
        device_id: str,
        scale: int = 4,
        counter_id: str | None = None,
        staff_id: str | None = None,
        clock: Clock = SYSTEM,
    ) -> None:
        self.clock = clock
        self.office_id = office_id
        self.device_id = device_id
        self.scale = scale
        self.counter_id = counter_id
        self.staff_id = staff_id

    def press(
        self, value: int, at: datetime | None = None, event_id: uuid.UUID | None = None
    ) -> KioskRating:
        """The event of one press (validated: a wrong value raises at once)."""
        return KioskRating.model_validate(
            {
                "schema": "kiosk_rating/1",
                "event_id": event_id or uuid.uuid4(),
                "office_id": self.office_id,
                "device_id": self.device_id,
                "counter_id": self.counter_id,
                "staff_id": self.staff_id,
                "occurred_at": at or self.clock.now(),
                "scale": self.scale,
                "value": value,
            }
        )


@dataclass(frozen=True)
class Spooled:
    event_id: str
    key: bytes
    value: bytes
    round_id: int | None


class Spool:
    """The device's durable queue of events not yet confirmed by Kafka (SQLite, WAL).

    One connection per thread: the press path and the forwarder each open their own.
    """

    SCHEMA = """
        CREATE TABLE IF NOT EXISTS events (
            seq       INTEGER PRIMARY KEY AUTOINCREMENT,
            event_id  TEXT NOT NULL UNIQUE,
            key       BLOB NOT NULL,
            value     BLOB NOT NULL,
            stored_at REAL NOT NULL,
            round_id  INTEGER  -- the round that sent it unconfirmed; NULL = not in flight
        );
        CREATE TABLE IF NOT EXISTS rounds (
            round_id INTEGER PRIMARY KEY AUTOINCREMENT,
            marks    TEXT NOT NULL  -- unused since the kiosk stopped reading the topic
        );
    """

    def __init__(self, path: Path, max_events: int, clock: Clock = SYSTEM) -> None:
        self.path = path
        self.clock = clock
        self.max_events = max_events
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(path, timeout=30, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        # FULL: a commit is on disk (WAL fsynced) before it returns, so an acknowledged
        # press survives a power cut, not only a killed process.
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(self.SCHEMA)

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self.db.execute("BEGIN IMMEDIATE")
        try:
            yield self.db
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def put(self, event: KioskRating) -> None:
        """Store one event durably, or raise :class:`SpoolFull`."""
        with self._tx() as db:
            (count,) = db.execute("SELECT count(*) FROM events").fetchone()
            if count >= self.max_events:
                oldest = datetime.fromtimestamp(
                    db.execute("SELECT min(stored_at) FROM events").fetchone()[0], UTC
                )
                raise SpoolFull(
                    f"spool full: {count} ratings wait for Kafka in {self.path} (the oldest "
                    f"since {oldest:%Y-%m-%d %H:%M} UTC); presses are refused until Kafka "
                    f"takes them (limit: HAILONG_KIOSK_SPOOL_MAX_EVENTS={self.max_events})"
                )
            db.execute(
                "INSERT INTO events (event_id, key, value, stored_at) VALUES (?,?,?,?)",
                (str(event.event_id), event.key, event.to_json(), self.clock.time()),
            )

    def count(self) -> int:
        return int(self.db.execute("SELECT count(*) FROM events").fetchone()[0])

    def oldest(self, limit: int) -> list[Spooled]:
        rows = self.db.execute(
            "SELECT event_id, key, value, round_id FROM events ORDER BY seq LIMIT ?", (limit,)
        )
        return [Spooled(*row) for row in rows]

    def in_flight(self) -> set[str]:
        """Events sent but not confirmed (they are sent again, as the same bytes)."""
        return {
            r[0] for r in self.db.execute("SELECT event_id FROM events WHERE round_id IS NOT NULL")
        }

    def begin_round(self, event_ids: list[str]) -> int:
        with self._tx() as db:
            # (marks: kept for spools of earlier releases, which read the topic back)
            cur = db.execute("INSERT INTO rounds (marks) VALUES ('{}')")
            round_id = int(cur.lastrowid or 0)
            db.executemany(
                "UPDATE events SET round_id = ? WHERE event_id = ?",
                [(round_id, e) for e in event_ids],
            )
        return round_id

    def settle(self, confirmed: set[str]) -> None:
        """Drop the events Kafka confirmed (the others stay, to be sent again)."""
        with self._tx() as db:
            db.executemany("DELETE FROM events WHERE event_id = ?", [(e,) for e in confirmed])
            db.execute(
                "DELETE FROM rounds WHERE round_id NOT IN "
                "(SELECT round_id FROM events WHERE round_id IS NOT NULL)"
            )

    def close(self) -> None:
        self.db.close()


class Forwarder:
    """Moves spooled events to Kafka: see the module docstring for the protocol."""

    def __init__(
        self,
        settings: Settings,
        spool_path: Path,
        on_sent: Callable[[int], None] = lambda _n: None,
        signer: Signer | None = None,
        connection: dict[str, object] | None = None,
    ) -> None:
        self.settings = settings
        self.signer = signer  # signs each value as it is sent (Ed25519 is deterministic)
        # Where and as whom to connect: the device config's (hailong.kafka.device_connection);
        # without one, the local stack's simulator account (a developer's kiosk).
        self.connection = dict(connection or {})
        self.spool_path = spool_path
        self.topic = str(self.connection.pop("topic", settings.topics.kiosk))
        self.on_sent = on_sent
        self._producer: Producer | None = None
        self.wake = threading.Event()
        self.stopping = threading.Event()

    def _client(self) -> Producer:
        if self._producer is None:
            self._producer = Producer(
                producer_config(
                    self.settings,
                    SIMULATOR,
                    connection=self.connection or None,
                    **{
                        "message.timeout.ms": int(ROUND_TIMEOUT_S * 1000),
                        "linger.ms": 20,
                        "log_level": 2,
                    },
                )
            )
        return self._producer

    def reachable(self) -> bool:
        """True when the broker answers and the kiosk topic has its partition leaders."""
        try:
            meta = self._client().list_topics(self.topic, timeout=5).topics[self.topic]
        except KafkaException:
            return False
        return meta.error is None and all(p.leader >= 0 for p in meta.partitions.values())

    # -- rounds ----------------------------------------------------------------------
    def round(self, spool: Spool) -> int:
        """Send one round (events of an interrupted round first, as the same bytes);
        return how many Kafka confirmed."""
        in_flight = spool.in_flight()
        batch = spool.oldest(ROUND_MAX_EVENTS)
        if not batch:
            return 0
        if in_flight:
            log.info(
                "sending %d events of an interrupted round again (a copy that reached "
                "Kafka is counted once, by its event_id)",
                len(in_flight),
            )
        producer = self._client()
        spool.begin_round([e.event_id for e in batch])
        confirmed: set[str] = set()
        errors: list[KafkaError] = []

        def reporter(event_id: str) -> Callable[[KafkaError | None, object], None]:
            def report(err: KafkaError | None, _msg: object) -> None:
                if err is None:
                    confirmed.add(event_id)
                else:
                    errors.append(err)

            return report

        for e in batch:
            headers: Headers = [*self.signer.headers(e.value)] if self.signer else []
            producer.produce(
                self.topic,
                key=e.key,
                value=e.value,
                headers=headers,
                on_delivery=reporter(e.event_id),
            )
        # Every message gets a report within message.timeout.ms; wait for all of them,
        # so nothing of this round is still queued when its events are sent again.
        while producer.flush(5.0) > 0:
            pass
        # Unconfirmed events stay tagged with this round: the next round looks for them.
        spool.settle(confirmed)
        if any(err.fatal() for err in errors):
            self._producer = None  # a fatal producer error: start a new one
        if errors:
            log.warning(
                "%d of %d events not confirmed (%s); will send them again",
                len(batch) - len(confirmed),
                len(batch),
                errors[0].str(),
            )
        self.on_sent(len(confirmed))
        if errors and not confirmed:
            raise KafkaException(errors[0])  # Kafka away, or refusing: back off
        return len(confirmed)

    def run(self) -> None:
        """Forward until :attr:`stopping` is set; never raises for Kafka being away."""
        spool = Spool(self.spool_path, self.settings.kiosk_spool_max_events)
        backoff = 0.5
        try:
            while not self.stopping.is_set():
                try:
                    sent = self.round(spool)
                    backoff = 0.5
                except KafkaException as exc:
                    log.warning(
                        "cannot send to Kafka (%s); %d ratings spooled; retrying in %.0f s",
                        exc.args[0],
                        spool.count(),
                        backoff,
                    )
                    self.stopping.wait(backoff)
                    backoff = min(backoff * 2, self.settings.retry_backoff_max_s)
                    continue
                if not sent and spool.count() == 0:
                    self.wake.wait(1.0)
                    self.wake.clear()
        finally:
            spool.close()


class KioskClient:
    """The library a device runs: ``press`` stores durably; a thread forwards to Kafka."""

    def __init__(
        self,
        settings: Settings,
        device: KioskDevice,
        spool_path: Path | None = None,
        signer: Signer | None = None,
        connection: dict[str, object] | None = None,
    ) -> None:
        self.device = device
        self.spool_path = spool_path or settings.spool_dir / f"{device.device_id}.sqlite"
        self.spool = Spool(self.spool_path, settings.kiosk_spool_max_events)
        self.sent = 0
        self.forwarder = Forwarder(
            settings, self.spool_path, on_sent=self._count, signer=signer, connection=connection
        )
        self._thread = threading.Thread(
            target=self.forwarder.run, name="kiosk-forwarder", daemon=True
        )
        self._thread.start()

    def _count(self, n: int) -> None:
        self.sent += n

    def press(self, value: int) -> KioskRating:
        """Record a press: returns once it is on disk (raises SpoolFull when full)."""
        event = self.device.press(value)
        self.spool.put(event)
        self.forwarder.wake.set()
        return event

    def pending(self) -> int:
        return self.spool.count()

    def drain(
        self, timeout: float | None = None, progress: Callable[[int], None] = lambda _n: None
    ) -> bool:
        """Wait until the spool is empty; False if ``timeout`` passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        last = -1
        while (left := self.pending()) > 0:
            if left != last:
                progress(left)
                last = left
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(0.2)
        return True

    def close(self) -> None:
        self.forwarder.stopping.set()
        self.forwarder.wake.set()
        self._thread.join(ROUND_TIMEOUT_S + 10)
        self.spool.close()


def run_cli(settings: Settings, args: argparse.Namespace) -> None:
    """``hailong kiosk``: one device. Reads presses from stdin, one value per line, and
    prints ``stored <event_id> <occurred_at>`` once each is on disk. At the end of the
    input it waits until Kafka has every spooled rating (Ctrl-C leaves them spooled)."""
    logging.basicConfig(
        level=logging.INFO, stream=sys.stderr, format="%(asctime)s kiosk %(levelname)s %(message)s"
    )
    signer, connection = None, None
    if args.config:
        from hailong.kafka import device_connection
        from warehouse.devices import signer_from_config

        signer = signer_from_config(Path(args.config))
        if args.device and args.device != signer.device_id:
            raise HailongError(
                f"--device {args.device} is not the config's device {signer.device_id}"
            )
        config = json.loads(Path(args.config).read_text("utf-8"))
        args.device, args.office = signer.device_id, args.office or config["office_id"]
        connection = device_connection(config)
    if not args.device or not args.office:
        raise HailongError(
            "give --config (the device config of `hailong devices register`), "
            "or --office and --device"
        )
    if signer is None:
        log.warning(
            "no --config: the ratings go unsigned, and a worker that requires "
            "signatures (the default) holds them in the quarantine"
        )
    device = KioskDevice(args.office, args.device, args.scale, args.counter, args.staff)
    spool_path = Path(args.spool) if args.spool else None
    if args.status:
        spool = Spool(
            spool_path or settings.spool_dir / f"{args.device}.sqlite",
            settings.kiosk_spool_max_events,
        )
        print(f"{spool.path}: {spool.count()} ratings waiting for Kafka")
        return
    client = KioskClient(settings, device, spool_path, signer, connection)
    print(
        f"kiosk {args.device} at {args.office} ({args.scale} buttons); spool "
        f"{client.spool_path} holds {client.pending()} ratings; press 1-{args.scale}",
        flush=True,
    )
    try:
        for line in sys.stdin:
            text = line.strip()
            if not text:
                continue
            if text not in {str(v) for v in range(1, args.scale + 1)}:
                print(f"refused {text!r}: press a value from 1 to {args.scale}", flush=True)
                continue
            try:
                event = client.press(int(text))
            except SpoolFull as exc:
                print(f"refused {text!r}: {exc}", flush=True)
                continue
            print(f"stored {event.event_id} {event.occurred_at.isoformat()}", flush=True)
        client.drain(
            progress=lambda n: print(f"waiting for Kafka: {n} ratings spooled", flush=True)
        )
        print(f"done: {client.sent} ratings confirmed by Kafka", flush=True)
    finally:
        client.close()
