"""How a stream worker process ends: promptly on SIGTERM, loudly when its agent dies.

* **SIGTERM (or SIGINT) stops the worker within the consumer's session timeout**,
  whatever it is doing. faust stops gracefully, but a worker inside a retry loop (a
  server that stays down) or a stuck fetch could make a supervisor wait minutes. On the
  signal a watchdog thread starts; if the process is still alive after
  :func:`grace_s` it exits by itself. Nothing is lost: unacknowledged batches are read
  again by the next worker; every write is idempotent.
* **Health**: after each landed batch the worker rewrites its health file (:class:`Health`)
  with the time of that batch and its lag.
* **An agent that dies takes the process down** with exit status :data:`AGENT_DIED`,
  so the supervisor (systemd, Kubernetes, the tests) sees it and starts another: faust
  would otherwise restart the agent inside a process that may no longer consume.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import faust

from hailong.clock import Clock
from hailong.kafka import WORKER, login, ssl_context
from hailong.settings import Settings

log = logging.getLogger(__name__)

AGENT_DIED = 70  # EX_SOFTWARE
STOPPED_BY_WATCHDOG = 143  # as if killed by SIGTERM: 128 + 15


def grace_s(session_timeout_s: float) -> float:
    """How long a graceful stop may take: within the session timeout, with a margin."""
    return max(1.0, session_timeout_s * 0.75)


def _exit(code: int) -> None:
    logging.shutdown()  # flush what was logged; no other cleanup can be trusted now
    os._exit(code)


def start_watchdog(seconds: float, exit: Callable[[int], None] = _exit) -> threading.Timer:
    """Exit the process after ``seconds`` unless it ended before (daemon thread)."""

    def expire() -> None:
        log.error(
            "still stopping after %.0f s: exiting now (the next worker replays what "
            "was not acknowledged)",
            seconds,
        )
        exit(STOPPED_BY_WATCHDOG)

    timer = threading.Timer(seconds, expire)
    timer.daemon = True
    timer.start()
    return timer


def agent_died(exc: BaseException, exit: Callable[[int], None] = _exit) -> None:
    """Log an agent's death and end the process (status :data:`AGENT_DIED`)."""
    log.critical(
        "the ingest agent died; exiting so that a supervisor starts a new worker: %r",
        exc,
        exc_info=exc,
    )
    exit(AGENT_DIED)


@dataclass
class Health:
    """The worker's health file (``<stack_dir>/health/<group>-<pid>.json``), written
    after every landed batch: a supervisor or a person reads how far behind the worker
    is (``lag``: messages in its partitions not yet landed) and when it last landed."""

    path: Path
    clock: Clock
    landed_events: int = 0
    batches: int = 0
    positions: dict[tuple[str, int], int] = field(default_factory=dict)  # next offset

    def landed(
        self,
        messages: int,
        last_offsets: dict[tuple[str, int], int],
        highwater: Callable[[str, int], int | None],
    ) -> dict[str, Any]:
        """Record a landed batch; write and return the health record."""
        self.batches += 1
        self.landed_events += messages
        for tp, offset in last_offsets.items():
            self.positions[tp] = max(self.positions.get(tp, 0), offset + 1)
        lag = 0
        for (topic, partition), next_offset in self.positions.items():
            high = highwater(topic, partition)
            if high is not None:
                lag += max(0, high - next_offset)
        record = {
            "pid": os.getpid(),
            "last_landed_at": self.clock.now().isoformat(),
            "batches": self.batches,
            "messages": self.landed_events,
            "lag": lag,
            "partitions": len(self.positions),
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(record) + "\n")
        tmp.replace(self.path)  # readers never see half a file
        return record


def worker_class(session_timeout_s: float) -> type[faust.Worker]:
    """faust's Worker, with a watchdog armed by SIGTERM and SIGINT."""
    seconds = grace_s(session_timeout_s)

    class Worker(faust.Worker):
        _watchdog: threading.Timer | None = None

        def _arm(self) -> None:
            if self._watchdog is None:
                log.info("stopping; exiting in at most %.0f s", seconds)
                self._watchdog = start_watchdog(seconds)

        # mode.Worker's signal handlers (installed with loop.add_signal_handler).
        def _on_sigterm(self) -> None:
            self._arm()
            super()._on_sigterm()

        def _on_sigint(self) -> None:
            self._arm()
            super()._on_sigint()

    return Worker


def broker_credentials(settings: Settings) -> faust.types.auth.CredentialsT | None:
    """The worker's Kafka account (hailong/kafka.py), in faust's (aiokafka's) terms."""
    protocol = settings.kafka_security_protocol
    context = ssl_context(settings) if protocol.endswith("SSL") else None
    account = login(settings, WORKER)
    if account is not None:
        return faust.SASLCredentials(
            username=account[0],
            password=account[1],
            mechanism=settings.kafka_sasl_mechanism,
            ssl_context=context,
        )
    return faust.SSLCredentials(context) if context is not None else None


def app_options(settings: Settings) -> dict[str, Any]:
    """The faust app's options for these settings (besides its id, the consumer
    group): the worker's (streams/app.py) and the benchmark's bare agent's
    (bench/bare_faust.py), so that the two differ only in what their agents do."""
    datadir = settings.stack_dir / "faust" / settings.consumer_group
    datadir.parent.mkdir(parents=True, exist_ok=True)
    return {
        "broker": f"kafka://{settings.bootstrap_servers.replace(',', ';kafka://')}",
        "store": "memory://",
        "broker_credentials": broker_credentials(settings),
        "datadir": str(datadir),
        "key_serializer": "raw",
        "value_serializer": "raw",
        # A new consumer group starts from the beginning of the topics: nothing skipped.
        "consumer_auto_offset_reset": "earliest",
        # The contract topics are created by `hailong stack start` / `hailong topics`.
        "topic_allow_declare": False,
        "topic_disable_leader": True,
        "web_enabled": False,
        "broker_session_timeout": settings.session_timeout_s,
        # SIGTERM ends the process within the session timeout (worker_class above).
        "Worker": worker_class(settings.session_timeout_s),
        "broker_heartbeat_interval": min(3.0, settings.session_timeout_s / 3),
    }
