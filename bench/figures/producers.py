"""Figure 5: the producers' throughput against a bare confluent-kafka produce loop.

Three ways of getting events into Kafka, each to the lab's topics, each counted only
when Kafka confirmed every event:

- **bare**: kiosk events serialised beforehand (Hanoi's 126 offices, so every
  partition gets some), produced in a tight loop with the platform's no-loss producer
  settings (``hailong.kafka.producer_config``: idempotence, ``acks=all``, lz4), then
  one ``flush``. The limit of any Python producer here.
- **kiosk**: one device's :class:`~producers.kiosk.KioskClient`: ``press`` in a loop,
  each press committed to the SQLite spool (WAL, ``synchronous=FULL``: an fsync per
  press) before it returns, while the forwarder thread sends rounds of up to 1,000 and
  deletes what Kafka confirmed; timed until the spool is empty. ``kiosk_stored_per_s``
  is the press loop alone (presses on disk per second).
- **gateway**: the QR gateway (``create_app``, served by uvicorn) with its rate limit
  raised out of the way; tokens are signed beforehand (not timed, the gateway's own
  signing function and key); then ``clients`` threads, each with a keep-alive
  ``http.client`` connection, POST ``/api/v1/surveys``; every answer (201) comes only
  after Kafka confirmed the survey and its token was marked used (two SQLite commits,
  ``synchronous=FULL``).

The gateway is served in a thread of this process, the clients in other threads of
it: on the 2-core machine of the first results the same run against the gateway as its
own process (``hailong gateway``, clients here) gave the same rate (709 vs 694 surveys/s
at 32 clients), so the clients' share of the GIL does not decide the figure.
"""

from __future__ import annotations

import http.client
import json
import random
import tempfile
import threading
import time
from datetime import timedelta
from pathlib import Path

from confluent_kafka import KafkaError, Message, Producer

from bench.core import Figure, Lab, Value
from hailong import qrtoken as tokens
from hailong.clock import SYSTEM
from hailong.kafka import SIMULATOR, producer_config
from hailong.questionnaire import questionnaires
from hailong.settings import Settings
from producers.kiosk import KioskClient, KioskDevice
from producers.simulator import hanoi_offices
from tests.serving import free_port, serve  # the tests' uvicorn-in-a-thread

# (full, quick) sizes
BARE_EVENTS = (300_000, 30_000)
KIOSK_EVENTS = (20_000, 2_000)
GATEWAY_SURVEYS = (10_000, 1_000)
GATEWAY_CLIENTS = 32


def _size(lab: Lab, sizes: tuple[int, int]) -> int:
    return sizes[1] if lab.quick else sizes[0]


# --- bare produce loop -------------------------------------------------------------------
def bare_loop(s: Settings, n: int) -> float:
    """Events per second of a tight produce loop, confirmed by Kafka."""
    offices = hanoi_offices(departments=False)
    messages = []
    for i in range(n):
        device = offices[i % len(offices)].devices[0]
        event = device.press(device.scale)
        messages.append((event.key, event.to_json()))
    topic = s.topics.kiosk
    producer = Producer(producer_config(s, SIMULATOR))
    confirmed = 0
    failures: list[KafkaError] = []

    def on_delivery(err: KafkaError | None, _msg: Message) -> None:
        nonlocal confirmed
        if err is None:
            confirmed += 1
        else:
            failures.append(err)

    t0 = time.perf_counter()
    for key, value in messages:
        while True:
            try:
                producer.produce(topic, value=value, key=key, on_delivery=on_delivery)
                break
            except BufferError:
                producer.poll(0.05)
        producer.poll(0)
    left = producer.flush(120)
    elapsed = time.perf_counter() - t0
    if left or failures or confirmed != n:
        raise RuntimeError(
            f"bare loop: {confirmed} of {n} confirmed, {left} left, "
            f"{len(failures)} failed ({failures[:1]})"
        )
    return n / elapsed


# --- kiosk client ------------------------------------------------------------------------
def kiosk_client(s: Settings, n: int, spool_dir: Path) -> tuple[float, float]:
    """(events/s until the spool is empty, presses stored/s) of one device."""
    office = hanoi_offices(departments=False)[3]
    device = KioskDevice(office.office_id, "BENCH-K1", 5, "Q1", f"{office.office_id}-S1")
    client = KioskClient(s.model_copy(update={"kiosk_spool_dir": spool_dir}), device)
    try:
        values = [random.randint(1, 5) for _ in range(n)]
        t0 = time.perf_counter()
        for v in values:
            client.press(v)
        stored = time.perf_counter() - t0
        if not client.drain(timeout=600):
            raise RuntimeError(f"kiosk: {client.pending()} presses still spooled after 600 s")
        elapsed = time.perf_counter() - t0
        if client.sent < n:
            raise RuntimeError(f"kiosk: spool empty but only {client.sent} of {n} confirmed")
    finally:
        client.close()
    return n / elapsed, n / stored


# --- QR gateway --------------------------------------------------------------------------
def survey_bodies(s: Settings, n: int) -> list[bytes]:
    """n JSON submissions, each with its own freshly signed token (as the issuing API
    signs them), answering 5-22 criteria of sipas-5/1 like the simulator's citizens."""
    secret = s.key("gateway_secret")
    offices = [o.office_id for o in hanoi_offices(departments=False)]
    codes = sorted(questionnaires()["sipas-5/1"].criterion_codes)
    rng = random.Random(5)
    bodies = []
    for i in range(n):
        office = offices[i % len(offices)]
        token = tokens.issue(secret, office, timedelta(hours=1), SYSTEM.now())
        answers = {c: rng.randint(1, 5) for c in rng.sample(codes, rng.randint(5, len(codes)))}
        bodies.append(
            json.dumps(
                {
                    "token": token.text,
                    "office_id": office,
                    "answers": answers,
                    "overall": rng.randint(1, 5),
                }
            ).encode()
        )
    return bodies


def post_all(port: int, bodies: list[bytes], clients: int) -> float:
    """Surveys per second with ``clients`` concurrent keep-alive connections."""
    lock = threading.Lock()
    todo = iter(bodies)
    errors: list[str] = []
    done = [0]
    start = threading.Barrier(clients + 1)

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Content-Type": "application/json"}
        start.wait()
        try:
            while True:
                with lock:
                    body = next(todo, None)
                if body is None:
                    return
                conn.request("POST", "/api/v1/surveys", body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read()
                if resp.status != 201:
                    errors.append(f"{resp.status} {text[:200]!r}")
                    return
                with lock:
                    done[0] += 1
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(repr(exc))
        finally:
            conn.close()

    threads = [threading.Thread(target=client, daemon=True) for _ in range(clients)]
    for t in threads:
        t.start()
    start.wait()
    t0 = time.perf_counter()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - t0
    if errors or done[0] != len(bodies):
        raise RuntimeError(f"gateway: {done[0]} of {len(bodies)} accepted; {errors[:3]}")
    return len(bodies) / elapsed


def gateway(s: Settings, n: int, clients: int, stack_dir: Path) -> float:
    from producers.gateway.app import create_app

    # keys and the token store in stack_dir; no rate limit in the way
    g = s.model_copy(
        update={
            "stack_dir": stack_dir,
            "kafka_home": s.kafka_dir,
            "gateway_port": free_port(),
            "gateway_rate_per_minute": 1_000_000_000,
        }
    )
    bodies = survey_bodies(g, n)
    with serve(create_app(g), g.gateway_port):
        return post_all(g.gateway_port, bodies, clients)


def run(lab: Lab) -> dict[str, float]:
    s = lab.settings
    out: dict[str, float] = {}
    n = _size(lab, BARE_EVENTS)
    lab.progress(f"bare produce loop: {n:,} kiosk events")
    out["bare_events_per_s"] = bare_loop(s, n)
    n = _size(lab, KIOSK_EVENTS)
    lab.progress(f"kiosk client: {n:,} presses, spooled then forwarded")
    with tempfile.TemporaryDirectory(prefix="bench-kiosk-") as tmp:
        out["kiosk_events_per_s"], out["kiosk_stored_per_s"] = kiosk_client(s, n, Path(tmp))
    n = _size(lab, GATEWAY_SURVEYS)
    lab.progress(f"QR gateway: {n:,} surveys, {GATEWAY_CLIENTS} concurrent clients")
    with tempfile.TemporaryDirectory(prefix="bench-gateway-") as tmp:
        out["gateway_surveys_per_s"] = gateway(s, n, GATEWAY_CLIENTS, Path(tmp))
    return out


FIGURES = [
    Figure(
        key="5-producers",
        title="Producers: kiosk client and QR gateway vs a bare produce loop",
        values=(
            Value("bare_events_per_s", "events/s"),
            Value("kiosk_events_per_s", "events/s", reference="5-producers.bare_events_per_s"),
            Value("kiosk_stored_per_s", "presses/s"),
            Value("gateway_surveys_per_s", "surveys/s", reference="5-producers.bare_events_per_s"),
        ),
        run=run,
        note="bare: pre-serialised kiosk events, no-loss settings, one flush; kiosk: one "
        "device, each press fsynced to its SQLite spool, until the spool is empty; "
        f"gateway: uvicorn in a thread, {GATEWAY_CLIENTS} keep-alive clients, "
        "answers after Kafka's ack",
    ),
]
