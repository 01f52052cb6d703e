"""Figure 8: the cost of validating one event (issue 'Poison messages': at most 10 %
slower than before the hostile-input hardening).

Both sides run in one process on the same events (simulated kiosk, QR and camera, their
wire bytes), single-threaded, best of 5 passes:

* ``parse_event``: the contract parser as the worker runs it: the strict, bounded JSON
  parser (``hailong.strictjson``: size, number length and nesting checked) and the
  models with every range check;
* the reference: the parser as it was before the hardening, ``json.loads`` with the
  duplicate-key and NaN hooks, then the same models' validation.

The ratio (reference / hardened, higher is better) says how much of the unhardened
speed the hardened parser keeps. A third side, ``checked``, adds what the worker does
next with each valid event: the quarantine's plausibility rules (``streams/
plausible.py``: key, skew, horizon, and the office against the whole Hanoi registry).
"""

from __future__ import annotations

import json
import math
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.core import Figure, Lab, Value

PASSES = 5


def _reference_parse(raw: bytes, models: dict[str, Any]) -> Any:
    """The unbounded parse of before: stdlib json with the contract's hooks."""

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj: dict[str, Any] = {}
        for k, v in items:
            if k in obj:
                raise ValueError(k)
            obj[k] = v
        return obj

    def bad_float(text: str) -> float:
        value = float(text)
        if math.isinf(value):
            raise ValueError(text)
        return value

    obj = json.loads(raw.decode("utf-8"), object_pairs_hook=pairs, parse_float=bad_float)
    return models[obj["schema"]].model_validate(obj)


def _events(n: int) -> list[tuple[bytes, str]]:
    from producers.simulator import city_traffic, hanoi_offices

    end = datetime(2026, 11, 20, tzinfo=UTC)
    traffic = city_traffic(hanoi_offices(), n, end - timedelta(hours=1), end, seed=8)
    topic = {
        "kiosk_rating/1": "satisfaction.kiosk.v1",
        "qr_survey/1": "satisfaction.qr.v1",
        "camera_observation/1": "satisfaction.camera.v1",
    }
    return [(e.to_json(), topic[e.schema_]) for e in traffic.events]


def _best_rate(events: list[tuple[bytes, str]], parse: Any) -> float:
    best = math.inf
    for _ in range(PASSES):
        t0 = time.perf_counter()
        for raw, topic in events:
            parse(raw, topic)
        best = min(best, time.perf_counter() - t0)
    return len(events) / best


def validation(lab: Lab) -> dict[str, float]:
    from hailong.contract import MODELS, parse_event

    events = _events(5_000 if lab.quick else 50_000)
    lab.progress(f"{len(events):,} events, best of {PASSES} passes each")
    reference = _best_rate(events, lambda raw, _t: _reference_parse(raw, MODELS))
    hardened = _best_rate(events, parse_event)
    checked = _best_rate(events, _checking_parser())
    verify_us = _signature_us(events[: 2_000 if lab.quick else 10_000])
    return {
        "hardened_per_s": hardened,
        "reference_per_s": reference,
        "checked_per_s": checked,
        "hardened_us": 1e6 / hardened,
        "reference_us": 1e6 / reference,
        "checked_us": 1e6 / checked,
        "signature_us": verify_us,
    }


def _signature_us(events: list[tuple[bytes, str]]) -> float:
    """The worker's signature rule per event (headers read, key found, Ed25519 verified):
    µs per event, best of the passes."""
    from hailong.contract import parse_event
    from hailong.signing import Signer, new_key
    from streams.plausible import signature_doubt
    from warehouse.channels import BY_NAME
    from warehouse.devices import DeviceKeys, Key

    private, public = new_key()
    table: dict[tuple[str, int], Key] = {}
    signed = []
    at_us: dict[str, Any] = {c: BY_NAME[c].at_us for c in BY_NAME}
    for raw, topic in events:
        channel = topic.split(".")[1]
        event = parse_event(raw, topic)
        device = getattr(event, "device_id", None) or getattr(event, "camera_id", None)
        kind = channel if channel != "qr" else "gateway"
        device = device or "gateway"
        table[(device, 1)] = Key(
            device, 1, kind, "" if kind == "gateway" else event.office_id, public, 0, 0, 0
        )
        signed.append(
            (channel, event, raw, Signer(device, 1, private).headers(raw), at_us[channel](event))
        )
    keys = DeviceKeys((0, 0), table)
    best = math.inf
    for _ in range(PASSES):
        t0 = time.perf_counter()
        for channel, event, raw, headers, at in signed:
            if signature_doubt(channel, event, raw, headers, at, at, keys) is not None:
                raise AssertionError("a signed simulated event fails its check")
        best = min(best, time.perf_counter() - t0)
    return 1e6 * best / len(signed)


def _checking_parser() -> Any:
    """parse_event, then the plausibility rules as the worker applies them."""
    from hailong.contract import parse_event
    from hailong.registry import OfficeCalendar, hanoi_registry
    from streams.plausible import DAY_US, Rules, doubts
    from warehouse.channels import BY_NAME

    spans: dict[str, list[Any]] = {}
    for o in hanoi_registry()[1]:
        spans.setdefault(o.office_id, []).append((o.starts, o.ends))
    rules = Rules(
        600_000_000, 45 * DAY_US, OfficeCalendar(1, {k: tuple(v) for k, v in spans.items()})
    )
    at_us: dict[str, Any] = {
        t: BY_NAME[t.split(".")[1]].at_us
        for t in ("satisfaction.kiosk.v1", "satisfaction.qr.v1", "satisfaction.camera.v1")
    }

    def parse(raw: bytes, topic: str) -> Any:
        event = parse_event(raw, topic)
        at = at_us[topic](event)
        if doubts(event.office_id, at, event.office_id.encode(), at + 5_000_000, rules):
            raise AssertionError("a simulated event is implausible")
        return event

    return parse


FIGURES = [
    Figure(
        "8-validation",
        "Validating one event: hardened contract parser vs before",
        (
            Value("hardened_per_s", "events/s", reference="8-validation.reference_per_s"),
            Value("reference_per_s", "events/s"),
            Value("checked_per_s", "events/s", reference="8-validation.reference_per_s"),
            Value("hardened_us", "µs/event", higher_is_better=False),
            Value("reference_us", "µs/event", higher_is_better=False),
            Value("checked_us", "µs/event", higher_is_better=False),
            Value("signature_us", "µs/event", higher_is_better=False),
        ),
        validation,
        note="one thread, same events; reference = json.loads + the same models; "
        "checked = hardened + the quarantine's rules; signature = the signature "
        "rule alone (Ed25519 verify)",
    ),
]
