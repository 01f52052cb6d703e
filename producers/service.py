"""What the producers' HTTP services (QR gateway, camera adapter) share about Kafka and
devices; what is plain HTTP is in :mod:`hailong.http`.

- :class:`ConfirmingProducer`: publish from asyncio and wait for Kafka's ack. One
  confluent-kafka producer with the no-loss settings of :mod:`hailong.kafka`, but a short
  ``message.timeout.ms`` (a person or a camera is waiting for the answer); a thread
  serves delivery reports and hands each one to its asyncio future with
  ``loop.call_soon_threadsafe``.
- :class:`RegisteredTokens`: the bearer tokens of registered cameras or issuers.
- :func:`service_signer`: the device key a service signs what it publishes with.
- :class:`OfficeNames`: each office's name from the registry, for the survey page.
- :func:`strict_body`, :func:`add_healthz` and :func:`run_service`: the request models'
  config, ``/healthz`` and ``hailong gateway|camera``.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from fastapi import FastAPI
from pydantic import ConfigDict

from hailong.errors import DeliveryError
from hailong.http import RateLimiter, Refused, retry_after, serve
from hailong.kafka import Headers, producer_config
from hailong.settings import Settings
from hailong.signing import Signer

log = logging.getLogger(__name__)

# How long a publish may wait for Kafka before the request is answered with 503.
DELIVERY_TIMEOUT_S = 15.0


class ConfirmingProducer:
    """Publishes one message at a time from asyncio and returns once Kafka confirmed it.

    :meth:`send` raises :class:`DeliveryError` when Kafka reported a failure or did not
    answer within ``timeout_s``. A message reported as timed out may still have been
    written (it was in flight when the timeout hit); callers that retry must therefore
    be idempotent downstream (same ``event_id``, or a QR token counted once).
    """

    def __init__(
        self,
        settings: Settings,
        role: str,
        timeout_s: float = DELIVERY_TIMEOUT_S,
        signer: Signer | None = None,
    ) -> None:
        self.timeout_s = timeout_s
        self.signer = signer  # the service's own device key: it signs what it publishes
        timeout: dict[str, Any] = {"message.timeout.ms": int(timeout_s * 1000)}
        self._producer = Producer(producer_config(settings, role, **timeout))  # its account
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="kafka-delivery", daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            self._producer.poll(0.2)

    async def send(
        self, topic: str, key: bytes, value: bytes, extra_headers: Headers | None = None
    ) -> None:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()

        def settle(err: KafkaError | None) -> None:
            if future.done():
                return
            if err is None:
                future.set_result(None)
            else:
                future.set_exception(
                    DeliveryError(f"Kafka did not take the message: {err.str()}", err.name())
                )

        def on_delivery(err: KafkaError | None, _msg: Message) -> None:
            try:
                loop.call_soon_threadsafe(settle, err)
            except RuntimeError:  # the loop is gone (shutdown): nobody waits any more
                pass

        try:
            headers: Headers = [
                *(extra_headers or []),
                *(self.signer.headers(value) if self.signer else []),
            ]
            self._producer.produce(
                topic, value=value, key=key, headers=headers, on_delivery=on_delivery
            )
        except BufferError:
            raise DeliveryError("the local Kafka queue is full") from None
        except KafkaException as exc:
            raise DeliveryError(f"Kafka refused the message: {exc}") from None
        try:
            # librdkafka reports every message within message.timeout.ms; the margin
            # only guards against a delivery report that never comes.
            await asyncio.wait_for(asyncio.shield(future), self.timeout_s + 10)
        except TimeoutError:
            raise DeliveryError(f"no delivery report within {self.timeout_s + 10:.0f} s") from None

    def close(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        self._thread.join(5)
        self._producer.flush(timeout_s)
        # Destroy the client now (not whenever the app object is collected), so that it
        # stops connecting to brokers.
        del self._producer


@dataclass(frozen=True)
class Holder:
    """Who a bearer token belongs to: a registered camera or issuer, and its office."""

    device_id: str
    office_id: str


class RegisteredTokens:
    """The bearer tokens of one kind of registered device (cameras, issuers), by their
    sha256 in the device registry (``warehouse/devices.py``); reloaded when older than
    ``refresh_s`` seconds, so a new, rotated or revoked token takes effect within that
    time. Only tokens of keys neither revoked nor ended are known."""

    def __init__(
        self,
        settings: Settings,
        kind: str,
        refresh_s: float,
        per_minute: int,
        token_name: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.kind = kind
        self.refresh_s = refresh_s
        self.per_minute = per_minute
        self.token_name = token_name  # for people: "the camera's webhook token"
        self.clock = clock
        self.limiter = RateLimiter(per_minute, clock=clock)
        self._by_digest: dict[str, Holder] = {}
        self._loaded_at: float | None = None

    async def admit(self, token: str | None) -> Holder:
        """The holder of a bearer token; else :class:`Refused`: 401 (unknown), 429 (over
        the holder's rate), 503 (the registry cannot be read)."""
        from hailong.errors import WarehouseError

        try:
            holder = await asyncio.to_thread(self.find, token) if token else None
        except WarehouseError as exc:
            log.warning("the device registry is unreachable: %s", exc)
            raise Refused(
                503,
                "registry-unavailable",
                "Not done",
                "the device registry cannot be read; try again",
                headers={"Retry-After": "30"},
            ) from None
        if holder is None:
            raise Refused(
                401,
                "unauthorized",
                "Unauthorized",
                f"send Authorization: Bearer <{self.token_name}>",
                headers={"WWW-Authenticate": "Bearer"},
            )
        wait = self.limiter.take(holder.device_id)
        if wait > 0:
            raise Refused(
                429,
                "rate-limited",
                "Too many requests",
                f"at most {self.per_minute} requests a minute per {self.kind}",
                headers={"Retry-After": retry_after(wait)},
            )
        return holder

    def _load(self) -> None:
        from hailong.clock import SYSTEM
        from warehouse.buckets import epoch_us
        from warehouse.client import Warehouse
        from warehouse.devices import keys

        now_us = epoch_us(SYSTEM.now())
        with Warehouse(self.settings) as wh:
            found = keys(wh)
        self._by_digest = {
            k.token_sha256: Holder(k.device_id, k.office_id)
            for k in found
            if k.kind == self.kind
            and k.token_sha256
            and not k.revoked_at_us
            and (not k.valid_to_us or now_us < k.valid_to_us)
        }
        self._loaded_at = self.clock()

    def find(self, token: str) -> Holder | None:
        """The holder of a token, or None (raises WarehouseError if the registry cannot
        be read when it must be)."""
        from warehouse.devices import token_digest

        if self._loaded_at is None or self.clock() - self._loaded_at >= self.refresh_s:
            self._load()
        return self._by_digest.get(token_digest(token))


class OfficeNames:
    """Each office's name from the registry (its latest version), reloaded when older than
    ``refresh_s`` seconds; for pages that tell a citizen which office they are rating.
    When the registry cannot be read, the office's id stands in for its name."""

    def __init__(
        self, settings: Settings, refresh_s: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.settings = settings
        self.refresh_s = refresh_s
        self.clock = clock
        self._names: dict[str, str] = {}
        self._loaded_at: float | None = None

    def label(self, office_id: str) -> str:
        """'<name> (<office_id>)', or the id alone when the name is not known."""
        from hailong.errors import WarehouseError
        from warehouse.client import Warehouse
        from warehouse.registry import office_names

        if self._loaded_at is None or self.clock() - self._loaded_at >= self.refresh_s:
            try:
                with Warehouse(self.settings) as wh:
                    self._names = office_names(wh)
                self._loaded_at = self.clock()
            except WarehouseError as exc:
                log.warning("office names unavailable (the id stands in): %s", exc)
        name = self._names.get(office_id)
        return f"{name} ({office_id})" if name else office_id


def service_signer(settings: Settings, device_id: str) -> Signer | None:
    """The signing key of a gateway service (``qr-gateway``, ``camera-adapter``): its
    device config ``<stack_dir>/devices/<device_id>.json``, made by ``hailong devices
    register --device <device_id> --kind gateway``. Without it the service publishes
    unsigned events, which a worker that requires signatures holds in the quarantine:
    said loudly at start."""
    from warehouse.devices import signer_from_config

    path = settings.stack_dir / "devices" / f"{device_id}.json"
    if not path.exists():
        log.warning(
            "%s has no device key (%s): its events go unsigned and will be held in "
            "the quarantine; run `hailong devices register --device %s --kind "
            "gateway`",
            device_id,
            path,
            device_id,
        )
        return None
    signer = signer_from_config(path)
    log.info("%s signs its events with key %d", device_id, signer.key_id)
    return signer


def strict_body(*examples: dict[str, Any]) -> ConfigDict:
    """The config of a request body's model: strict types, no unknown field, and the
    examples OpenAPI shows."""
    return ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": list(examples)})


def add_healthz(
    app: FastAPI, topic: str, description: str, check: Callable[[], object] | None = None
) -> None:
    """``GET /healthz``: the service runs (and ``check``, run in a thread, did not raise);
    it answers with the topic the service publishes to."""

    @app.get(
        "/healthz",
        tags=["operations"],
        summary="Liveness",
        description=description,
        responses={200: {"description": "the service runs"}},
    )
    async def healthz() -> dict[str, str]:
        if check is not None:
            await asyncio.to_thread(check)
        return {"status": "ok", "topic": topic}


def run_service(
    settings: Settings,
    args: argparse.Namespace,
    service: str,
    create_app: Callable[[Settings], FastAPI],
    banner: Callable[[Settings], str],
    **options: Any,
) -> None:
    """Serve a producers' HTTP service until interrupted (``hailong gateway|camera``):
    ``--host``/``--port`` over its settings ``<service>_host``/``<service>_port``, its
    banner on stdout, then :func:`hailong.http.serve` with ``options``."""
    given = {f"{service}_host": args.host, f"{service}_port": args.port}
    settings = settings.model_copy(update={k: v for k, v in given.items() if v is not None})
    app = create_app(settings)
    print(banner(settings), flush=True)
    host, port = getattr(settings, f"{service}_host"), getattr(settings, f"{service}_port")
    serve(app, host, port, name=service, log_level=args.log_level, **options)
