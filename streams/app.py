"""The faust app: the one front door of the stream processing stage.

Run it with ``hailong stream`` (or ``faust -A streams.app worker``). One agent reads
the three event topics of contract v1 in batches of up to ``batch_max_events`` or
``batch_within_s`` seconds, whichever comes first, and hands each batch to
:class:`streams.ingest.Ingestor`.

Offsets: the agent takes batches with ``noack_take`` and acknowledges them only after
the Ingestor returned, i.e. after Kafka and ClickHouse confirmed every write; faust
then commits acknowledged offsets. ``concurrency=1`` because with several concurrent
instances faust can commit past events still in flight (faust #606). A worker killed
at any point re-reads from the last committed offset and the Ingestor's writes are
idempotent, so nothing is lost and nothing counts twice.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import os
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any, cast

import faust
from faust.types import TP, EventT, StreamT

from hailong.clock import SYSTEM
from hailong.settings import load_settings
from streams.alert_engine import AlertEngine
from streams.ingest import Ingestor, Received
from streams.lifecycle import Health, agent_died, app_options

settings = load_settings()
log = logging.getLogger(__name__)

app = faust.App(settings.consumer_group, **app_options(settings), producer_acks=-1)

events_topic = app.topic(*settings.topics.events, key_type=bytes, value_type=bytes)
health = Health(
    settings.stack_dir / "health" / f"{settings.consumer_group}-{os.getpid()}.json", SYSTEM
)


def highwater(topic: str, partition: int) -> int | None:
    """The partition's end offset as the consumer last saw it (None if unknown)."""
    try:
        return int(app.consumer.highwater(TP(topic, partition)))
    except Exception:  # noqa: BLE001 - not assigned any more, or not fetched yet
        return None


@functools.cache
def ingestor() -> Ingestor:
    """The worker's Ingestor, created on first use (so importing the app is cheap)."""
    return Ingestor(settings)


_create_time_topics: set[str] = set()


def broker_us(message: Any) -> int | None:
    """The message's timestamp in UTC µs (faust gives seconds). The event topics append
    with LogAppendTime (``infra/topics.py``): the broker's clock, which no sender sets.
    A topic still on CreateTime gives the sender's: said once, and used all the same."""
    if message.timestamp_type != 1 and message.topic not in _create_time_topics:
        _create_time_topics.add(message.topic)
        log.warning(
            "topic %s gives the sender's timestamps (CreateTime), so the skew and "
            "horizon checks trust the devices' clocks; run `hailong topics` to set "
            "LogAppendTime",
            message.topic,
        )
    ts = message.timestamp
    return round(ts * 1_000) * 1_000 if ts and ts > 0 else None


def headers_of(message: Any) -> list[tuple[str, bytes | None]]:
    """The message's headers as (name, value) pairs, whatever faust hands over."""
    h = message.headers
    if not h:
        return []
    return list(h.items()) if isinstance(h, Mapping) else [(k, v) for k, v in h]


@app.agent(events_topic, concurrency=1)
async def ingest(stream: StreamT[bytes]) -> None:
    """Validate, land and count every event; acknowledge only what has landed."""
    # faust's StreamT interface lacks noack_take (Stream has it), and it yields events
    # (with their Kafka message), not values.
    batches = cast(
        AsyncIterator[Sequence[EventT[bytes]]],
        stream.noack_take(  # type: ignore[attr-defined]
            settings.batch_max_events, within=settings.batch_within_s
        ),
    )
    try:
        async for events in batches:
            started = time.monotonic()
            received = [
                Received(
                    e.message.topic,
                    e.message.partition,
                    e.message.offset,
                    e.message.key,
                    e.message.value,
                    broker_us(e.message),
                    headers_of(e.message),
                )
                for e in events
            ]
            batch = await ingestor().process(received)
            for event in events:
                await stream.ack(event)
            log.info(
                "landed %d kiosk, %d qr, %d camera events, %d dead letters in %.3f s",
                len(batch.kiosk),
                len(batch.qr),
                len(batch.camera),
                len(batch.dead),
                time.monotonic() - started,  # the batch's work, from taken to acknowledged
            )
            last: dict[tuple[str, int], int] = {}
            for r in received:
                last[(r.topic, r.partition)] = max(last.get((r.topic, r.partition), -1), r.offset)
            health.landed(len(received), last, highwater)
    except asyncio.CancelledError:
        raise  # the worker is stopping
    except Exception as exc:  # noqa: BLE001 - any death of the agent ends the process
        agent_died(exc)


@functools.cache
def alert_engine() -> AlertEngine:
    """The worker's alert engine, created on first use."""
    return AlertEngine(settings)


if settings.alerts_enabled:

    @app.timer(interval=settings.alert_interval_s)  # type: ignore[untyped-decorator]
    async def alerts() -> None:
        """Every ``alert_interval_s``: the alert engine's run (streams/alert_engine.py),
        in a thread, as it reads and writes ClickHouse and sends mail. A failed run is
        logged and the next one starts over: nothing undelivered is marked delivered."""
        try:
            report = await asyncio.get_running_loop().run_in_executor(None, alert_engine().run_once)
        except Exception:  # an alert run must never stop the ingestion
            log.exception("alert engine run failed; the next run tries again")
            return
        log.info("%s", report)


def main() -> None:
    """Start the worker (``hailong stream``)."""
    app.main()
