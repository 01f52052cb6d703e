"""The bare faust agent of figure 3b: the runtime's own ceiling, as a child process.

    python -m bench.bare_faust EXPECTED DONE_FILE     (settings from the environment)

A faust app with the stream worker's settings where they bear on throughput
(``streams/app.py``: the same broker and login, the worker's Kafka account over SASL/TLS;
raw keys and values; offsets from the earliest; the same session timeout, heartbeat,
``Worker`` class and consumer group) and one agent on the three event topics, shaped as
the worker's is: ``concurrency=1``, batches from ``noack_take`` of ``batch_max_events``
within ``batch_within_s``, each event acknowledged, so faust commits offsets as it does
for the worker. The agent does nothing else: it counts. Once it has seen ``EXPECTED``
events it writes ``{"seen": n, "at": monotonic time}`` to ``DONE_FILE`` (atomically) and
goes on idling until it is stopped (SIGTERM), so its parent reads its CPU time while it
is still alive. Started like ``hailong stream``: faust's ``worker --without-web``.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import cast

import faust
from faust.types import EventT, StreamT

from hailong.settings import Settings, load_settings


def bare_app(settings: Settings, expected: int, done: Path) -> faust.App:
    """The app and its counting agent."""
    from streams.lifecycle import app_options

    app = faust.App(settings.consumer_group, **app_options(settings))
    topic = app.topic(*settings.topics.events, key_type=bytes, value_type=bytes)

    async def count(stream: StreamT[bytes]) -> None:
        """Take batches as the worker does, acknowledge every event, count them."""
        batches = cast(
            AsyncIterator[Sequence[EventT[bytes]]],
            stream.noack_take(  # type: ignore[attr-defined]
                settings.batch_max_events, within=settings.batch_within_s
            ),
        )
        seen = 0
        async for events in batches:
            for event in events:
                await stream.ack(event)
            seen += len(events)
            if seen >= expected and not done.exists():
                partial = done.with_suffix(".partial")
                partial.write_text(json.dumps({"seen": seen, "at": time.monotonic()}))
                partial.rename(done)

    app.agent(topic, concurrency=1, name="bench.bare_faust.count")(count)
    return app


def main(argv: list[str]) -> None:
    import os

    expected, done = int(argv[0]), Path(argv[1])
    if os.environ.get("BENCH_FAUST_FAST_DRAIN"):  # evidence for upstream: bench/FAUST.md
        from bench.fast_drain import patch

        patch()
    app = bare_app(load_settings(), expected, done)
    # --without-web, as `hailong stream` (hailong/cli/stream.py)
    sys.argv = ["bench.bare_faust", "worker", "--without-web", "-l", "info"]
    app.main()


if __name__ == "__main__":
    main(sys.argv[1:])
