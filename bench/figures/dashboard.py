"""Figure 10: the dashboard and the read API at a nation's scale (issue 15).

The lab's database gets 10,000 offices in 3,300 units (a nation's communes) and 30 days
of hourly kiosk counts ending now, about 30 million ratings (each bucket 0-20, mean 10,
over 10 office hours a day), and the month's ranking of the units. ``hailong web`` serves
it (in this process, uvicorn in a thread); a client asks, one request at a time:

- the city overview ``/city`` (a city account's session),
- an office's page ``/office/{id}`` (random offices),
- the API's first page of offices ``/api/v1/offices?limit=100`` (a city token) and one
  office ``/api/v1/offices/{id}``,

and the figure reports the p50 and p95 latency of each (goal: p95 < 300 ms). The overview
shares the city-wide live sums for 10 s (``CITY_LIVE_TTL_S``); ``city_live_read_ms`` is
what one refresh of them costs (the request that refreshes pays it). Then a press
published to Kafka, with a worker running: the seconds until the office's
``live.json`` (what its page polls) shows it (``press_to_page_s``; the page itself polls
every 5 s, so a person sees it within that much more).
"""

from __future__ import annotations

import json
import random
import statistics
import time
import uuid
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench.core import Figure, Lab, Value
from bench.preload import wait_for_group, worker
from hailong.clock import SYSTEM
from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.methodology import Weights
from hailong.registry import Office, Unit
from pipelines.ranking import Period, build_ranking
from pipelines.ranking_store import publish, unit_counts
from pipelines.web import data
from pipelines.web.app import create_app
from pipelines.web.auth import Account
from pipelines.web.store import Accounts
from tests.serving import free_port, request, serve  # the tests' small HTTP server/client
from warehouse.client import Warehouse
from warehouse.private import prepare_private
from warehouse.registry import load_registry

OFFICES = 10_000
UNITS = 3_300
DAYS = 30
PASSWORD = "bench password, long enough"  # noqa: S105 - a throwaway account


def _load(lab: Lab, offices: int, units: int) -> list[str]:
    s = lab.settings
    rng = random.Random(10)
    now = SYSTEM.now().replace(minute=0, second=0, microsecond=0)
    unit_list = [
        Unit(f"{i:05d}", f"Xã {i:05d}", "Xã", "commune", "01", date(2025, 7, 1), None)
        for i in range(units)
    ]
    office_ids = [f"HN-{i:06d}" for i in range(offices)]
    with Warehouse(s) as wh:
        load_registry(
            wh,
            unit_list,
            [Office(o, f"Một cửa {o}", unit_list[i % units]) for i, o in enumerate(office_ids)],
        )
        lab.progress(f"dashboard: {offices:,} offices in {units:,} units registered")
        cols = ("office_id", "hour", "k_n", "k_sat", "k_misuse", "version")
        hours = [
            now - timedelta(hours=h)
            for h in range(1, 24 * DAYS)
            if 1 <= (now - timedelta(hours=h)).hour <= 10
        ]
        total, batch = 0, []
        for office in office_ids:
            for hour in hours:
                n = rng.randint(0, 20)
                batch.append((office, hour, n, int(n * rng.uniform(0.6, 0.95)), 0, 1))
                total += n
            if len(batch) >= 500_000:
                wh.insert("kiosk_hourly", cols, batch)
                batch = []
                lab.progress(f"dashboard: {total:,} ratings in hourly buckets so far")
        wh.insert("kiosk_hourly", cols, batch)
        local = now.astimezone(ZoneInfo("Asia/Ho_Chi_Minh"))
        period = Period.month(local.year, local.month)
        publish(wh, period, build_ranking(period, unit_counts(wh, period), Weights(), 30, now))
        lab.progress(f"dashboard: {total:,} ratings; the month's ranking published")
    return office_ids


def _p(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def run(lab: Lab) -> dict[str, float]:
    s = lab.settings
    offices = OFFICES // 20 if lab.quick else OFFICES
    units = UNITS // 20 if lab.quick else UNITS
    office_ids = _load(lab, offices, units)
    prepare_private(s)
    with Accounts(s, SYSTEM) as accounts:
        accounts.add(Account("bench.city", "city"), PASSWORD, "bench")
        token = accounts.new_api_token("bench", "", "bench")
        session = accounts.login("bench.city", PASSWORD)
    cookie = {"Cookie": f"hailong_session={session}"}
    bearer = {"Authorization": f"Bearer {token}"}
    rng = random.Random(11)
    n = 10 if lab.quick else 40
    out: dict[str, float] = {}
    with serve(create_app(s, SYSTEM), free_port()) as base:
        cases: dict[str, Callable[[], Any]] = {
            "city": lambda: request("GET", f"{base}/city", headers=cookie),
            "office": lambda: request(
                "GET", f"{base}/office/{rng.choice(office_ids)}", headers=cookie
            ),
            "api_offices": lambda: request(
                "GET", f"{base}/api/v1/offices?limit=100", headers=bearer
            ),
            "api_office": lambda: request(
                "GET", f"{base}/api/v1/offices/{rng.choice(office_ids)}", headers=bearer
            ),
        }
        for name, call in cases.items():
            call()  # warm
            times = []
            for _ in range(n):
                start = time.perf_counter()
                reply = call()
                times.append((time.perf_counter() - start) * 1000)
                if reply.status != 200:
                    raise RuntimeError(f"{name}: HTTP {reply.status}: {reply.text[:200]}")
            out[f"{name}_p50_ms"] = statistics.median(times)
            out[f"{name}_p95_ms"] = _p(times, 0.95)
            lab.progress(
                f"dashboard: {name} p50 {out[f'{name}_p50_ms']:.0f} ms, "
                f"p95 {out[f'{name}_p95_ms']:.0f} ms"
            )
        # The overview shares the city-wide sums for 10 s: what one refresh of them costs.
        with Warehouse(s) as wh:
            reads = []
            for _ in range(5):
                start = time.perf_counter()
                data.city_live(wh)
                reads.append((time.perf_counter() - start) * 1000)
        out["city_live_read_ms"] = statistics.median(reads)
        office = office_ids[0]
        with worker(s) as w:
            wait_for_group(s, w.proc)

            def k_n() -> int:
                body = request("GET", f"{base}/office/{office}/live.json", headers=cookie)
                return int(json.loads(body.body)["windows"]["1h"]["k_n"])

            before = k_n()
            press = {
                "schema": "kiosk_rating/1",
                "event_id": str(uuid.uuid4()),
                "office_id": office,
                "device_id": "K-bench",
                "occurred_at": SYSTEM.now().isoformat(),
                "scale": 5,
                "value": 5,
            }
            start = time.perf_counter()
            deliver(
                make_producer(s, SIMULATOR),
                s.topics.kiosk,
                [(office.encode(), json.dumps(press).encode(), [])],
            )
            while k_n() != before + 1:
                if time.perf_counter() - start > 120:
                    raise RuntimeError(f"the press never showed: {w.last_warning()}")
                time.sleep(0.05)
            out["press_to_page_s"] = time.perf_counter() - start
    return out


FIGURES = [
    Figure(
        "10-dashboard",
        "The dashboard and read API with 10,000 offices and 30M ratings "
        "in the month: latency, and a press to its page",
        (
            *(
                Value(f"{page}_{q}_ms", "ms", higher_is_better=False)
                for page in ("city", "office", "api_offices", "api_office")
                for q in ("p50", "p95")
            ),
            Value("city_live_read_ms", "ms", higher_is_better=False),
            Value("press_to_page_s", "s", higher_is_better=False),
        ),
        run,
        note="one client, requests one at a time; goal p95 < 300 ms",
    ),
]
