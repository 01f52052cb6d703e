"""Issue 5's acceptance: the monthly and annual ranking assets materialized by Dagster
against the real ClickHouse server, on a data set whose ranks, ties, ineligible units,
merger trends, staff scores and interval properties are worked out by hand below.

The registry (a small city across the 2025 merger):
    2024 wards 80001, 80002, 80003, each with its office HN-<code>, until 2025-06-30.
    2025 communes: 80001 (from 80001 + 80002), 80003 (from 80003), 80005, 80007, 80009
    (new codes: offices HN-<code>-2025); departments SO-A, SO-B (offices HN-SO-A/B).
    HN-80001 and HN-80003 carry on into the communes that kept their codes; HN-80002
    closes on 2025-06-30.

Kiosk presses (scale 5: 4 and 5 are satisfied), one every minute per kiosk:
    June 2025:  HN-80001 40 (20 sat) · HN-80002 40 (40 sat) · HN-80003 40 (36 sat)
                HN-SO-A 10 (10 sat)
    July 2025:  HN-80001 40 (30 sat: staff S1 30/24, staff S2 10/6) + 1 misuse press
                HN-80003 40 (30 sat) · HN-80005-2025 32 (32) · HN-80009-2025 50 (20)
                HN-80007-2025 10 (10) · HN-SO-A 30 (15) · HN-SO-B 30 (27)

July, communes: 80005 100.00 → 1; 80001 and 80003 75.00 → tie at 2; 80009 40.00 → 4;
80007 K_n 10 < 30 → not ranked. Departments: SO-B 90 → 1, SO-A 50 → 2.
Trends over the current offices: 80001 = 75 - 50 (June of HN-80001 only, not the
closed HN-80002) = +25; 80003 = 75 - 90 = -15; 80005 none (no June); SO-A: June's
K_n 10 < 30 → none. Year 2025 (offices as on 31 December): 80001 80 presses, 50 sat →
62.5; 80003 80/66 → 82.5; 80005 100; 80009 40 → ranks 80005, 80003, 80001, 80009.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from dagster import DagsterInstance

from hailong.contract import KioskRating
from hailong.methodology import LOCAL_TZ, Weights
from hailong.registry import Lineage, Office, Unit, merged_offices
from hailong.settings import Settings
from pipelines.assets import failed_checks, materialize_period
from pipelines.ranking import Period, build_ranking
from pipelines.ranking_store import publish, publish_staff, silent_offices
from pipelines.resources import ClickHouseResource
from producers.kiosk import KioskDevice
from tests.integration.test_buckets_reference import land
from warehouse import landing
from warehouse.channels import KIOSK
from warehouse.client import Warehouse
from warehouse.reconcile import reconcile, repair
from warehouse.registry import load_registry

pytestmark = pytest.mark.integration

MERGER = date(2025, 7, 1)
OLD = [
    Unit(c, n, "Phường", "ward", "001", date(1970, 1, 1), date(2025, 6, 30))
    for c, n in (("80001", "Phường Cũ Một"), ("80002", "Phường Cũ Hai"), ("80003", "Phường Cũ Ba"))
]
NEW = [
    Unit(c, n, "Phường", "commune", "01", MERGER, None)
    for c, n in (
        ("80001", "Phường Mới Một"),
        ("80003", "Xã Mới Ba"),
        ("80005", "Phường Năm"),
        ("80007", "Xã Bảy"),
        ("80009", "Phường Chín"),
    )
]
DEPTS = [
    Unit(c, n, "Sở", "department", "01", date(1970, 1, 1), None)
    for c, n in (("SO-A", "Sở A"), ("SO-B", "Sở B"))
]
LINEAGE = [
    Lineage("80001", "Phường Mới Một", "80001", "Phường Cũ Một", "full"),
    Lineage("80001", "Phường Mới Một", "80002", "Phường Cũ Hai", "full"),
    Lineage("80003", "Xã Mới Ba", "80003", "Phường Cũ Ba", "full"),
]


def registry() -> tuple[list[Unit], list[Office]]:
    offices = merged_offices(OLD, NEW, LINEAGE) + [
        Office(f"HN-{u.code}", f"Một cửa {u.name}", u) for u in DEPTS
    ]
    return OLD + NEW + DEPTS, offices


def presses(
    office: str,
    day: date,
    n: int,
    satisfied: int,
    staff: str | None = None,
    device: str = "K1",
    first_minute: int = 0,
) -> list[KioskRating]:
    """n presses one minute apart from 09:00 local; the first ``satisfied`` are 5s."""
    kiosk = KioskDevice(office, f"{office}-{device}", 5, "Q1", staff)
    start = datetime(day.year, day.month, day.day, 9, tzinfo=LOCAL_TZ)
    return [
        kiosk.press(
            5 if i < satisfied else 2,
            at=start + timedelta(minutes=first_minute + i),
            event_id=uuid.uuid5(uuid.NAMESPACE_URL, f"{office}/{day}/{device}/{i}"),
        )
        for i in range(n)
    ]


def events() -> list[KioskRating]:
    june, july = date(2025, 6, 10), date(2025, 7, 15)
    out = [
        *presses("HN-80001", june, 40, 20),
        *presses("HN-80002", june, 40, 40),
        *presses("HN-80003", june, 40, 36),
        *presses("HN-SO-A", june, 10, 10),
    ]
    s1 = presses("HN-80001", july, 30, 24, staff="S1")
    out += [*s1, *presses("HN-80001", july, 10, 6, staff="S2", device="K2")]
    # a misuse press: 2 s after S1's first, on the same kiosk → flagged, counts nowhere
    out.append(
        KioskDevice("HN-80001", "HN-80001-K1", 5, "Q1", "S1").press(
            1, at=s1[0].occurred_at + timedelta(seconds=2), event_id=uuid.UUID(int=1)
        )
    )
    out += [
        *presses("HN-80003", july, 40, 30),
        *presses("HN-80005-2025", july, 32, 32),
        *presses("HN-80009-2025", july, 50, 20),
        *presses("HN-80007-2025", july, 10, 10),
        *presses("HN-SO-A", july, 30, 15),
        *presses("HN-SO-B", july, 30, 27),
    ]
    return out


@pytest.fixture
def city(settings: Settings, tmp_path: Path) -> ClickHouseResource:
    with Warehouse(settings) as wh:
        units, offices = registry()
        load_registry(wh, units, offices, LINEAGE)
        land(wh, events(), random.Random(5))
    return ClickHouseResource.from_settings(
        settings.model_copy(update={"report_dir": tmp_path / "reports"})
    )


COLUMNS = (
    "peer_group, unit_code, unit_name, offices, k_n, k_sat, score, eligible, reason, "
    "rank, n_ranked, prev_score, trend, score_lo, score_hi, rank_lo, rank_hi, "
    "registry_version, input_checksum"
)


def ranking(wh: Warehouse, period: str) -> list[tuple[Any, ...]]:
    return wh.execute(
        f"SELECT {COLUMNS} FROM rankings WHERE period = %(p)s ORDER BY peer_group, unit_code",
        {"p": period},
    )


def run(resource: ClickHouseResource, period: str) -> None:
    result = materialize_period(period, resource, DagsterInstance.ephemeral())
    assert result.success, failed_checks(result)


def test_monthly_and_annual_rankings_by_hand(
    settings: Settings, city: ClickHouseResource, tmp_path: Path
) -> None:
    run(city, "2025-07")
    wh = Warehouse(settings)
    rows = ranking(wh, "2025-07")
    table = {r[1]: r for r in rows}
    # (group, code, offices, K_n, K_sat, score, eligible, reason, rank, n_ranked)
    assert [
        (
            r[0],
            r[1],
            r[3],
            r[4],
            r[5],
            pytest.approx(r[6]) if r[6] is not None else None,
            r[7],
            r[8],
            r[9],
            r[10],
        )
        for r in rows
    ] == [
        ("commune", "80001", 1, 40, 30, 75.0, 1, "", 2, 4),
        ("commune", "80003", 1, 40, 30, 75.0, 1, "", 2, 4),
        ("commune", "80005", 1, 32, 32, 100.0, 1, "", 1, 4),
        ("commune", "80007", 1, 10, 10, 100.0, 0, "sample too small: K_n + Q_n = 10 < 30", None, 4),
        ("commune", "80009", 1, 50, 20, 40.0, 1, "", 4, 4),
        ("department", "SO-A", 1, 30, 15, 50.0, 1, "", 2, 2),
        ("department", "SO-B", 1, 30, 27, 90.0, 1, "", 1, 2),
    ]
    # Trends over the current offices (the merger's communes have a history).
    assert table["80001"][11] == pytest.approx(50.0) and table["80001"][12] == pytest.approx(25.0)
    assert table["80003"][11] == pytest.approx(90.0) and table["80003"][12] == pytest.approx(-15.0)
    assert table["80005"][11:13] == (None, None)  # born in 2025, no office before
    assert table["SO-A"][11] == pytest.approx(100.0) and table["SO-A"][12] is None  # K_n 10
    assert table["SO-B"][11:13] == (None, None)
    # Intervals: degenerate ones are exact; others contain the score; none for unranked.
    assert table["80005"][13:17] == (100.0, 100.0, 1, 1)
    for r in rows:
        if r[7]:
            assert r[13] <= r[6] <= r[14] and r[15] <= r[9] <= r[16]
        else:
            assert r[15:17] == (None, None)
    assert table["80009"][16] == 4  # nobody ranks below the last
    assert {r[17] for r in rows} == {1}  # registry version recorded

    # Per-staff kiosk scores: S1 24/30 = 80 (the misuse press excluded), S2 10 < 30.
    assert wh.execute(
        "SELECT office_id, unit_code, staff_id, k_n, k_sat, score, eligible, "
        "reason FROM staff_scores WHERE period = '2025-07' ORDER BY staff_id"
    ) == [
        ("HN-80001", "80001", "S1", 30, 24, pytest.approx(80.0), 1, ""),
        (
            "HN-80001",
            "80001",
            "S2",
            10,
            6,
            pytest.approx(60.0),
            0,
            "sample too small: K_n = 10 < 30",
        ),
    ]

    # Re-running the partition: identical rows and checksum, intervals included (seed).
    run(city, "2025-07")
    assert ranking(wh, "2025-07") == rows
    assert wh.execute("SELECT count() FROM staff_scores WHERE period = '2025-07'") == [(2,)]
    # Another seed moves the intervals of the non-degenerate units, not the ranks.
    run(
        ClickHouseResource.from_settings(
            settings.model_copy(update={"bootstrap_seed": 7, "report_dir": tmp_path / "reports"})
        ),
        "2025-07",
    )
    reseeded = {r[1]: r for r in ranking(wh, "2025-07")}
    assert [r[:13] for r in reseeded.values()] == [r[:13] for r in rows]
    assert reseeded["80005"][13:17] == (100.0, 100.0, 1, 1)
    assert any(reseeded[c][13:15] != table[c][13:15] for c in ("80001", "80003", "80009"))

    # The year, offices as on 31 December: June's presses of HN-80001/80003 count.
    run(city, "2025")
    year = {r[1]: (r[4], r[5], r[6], r[9]) for r in ranking(wh, "2025")}
    assert year["80001"] == (80, 50, pytest.approx(62.5), 3)
    assert year["80003"] == (80, 66, pytest.approx(82.5), 2)
    assert year["80005"] == (32, 32, pytest.approx(100.0), 1)
    assert year["80009"] == (50, 20, pytest.approx(40.0), 4)
    assert "80002" not in year  # its office closed with the merger
    # The views city IT reads: months and years apart, the same rows as published.
    assert wh.execute("SELECT DISTINCT period FROM ranking_monthly") == [("2025-07",)]
    assert wh.execute("SELECT DISTINCT period FROM ranking_annual") == [("2025",)]
    assert wh.execute(
        "SELECT unit_code, rank, rank_lo, rank_hi, trend FROM ranking_monthly ORDER BY unit_code"
    ) == [(r[1], r[9], r[15], r[16], r[12]) for r in sorted(rows, key=lambda r: r[1])]
    assert wh.execute("SELECT staff_id, score FROM staff_scores_monthly ORDER BY staff_id") == [
        ("S1", pytest.approx(80.0)),
        ("S2", pytest.approx(60.0)),
    ]
    wh.close()


def test_checks_block_publishing_until_inputs_are_complete(
    settings: Settings, city: ClickHouseResource
) -> None:
    wh = Warehouse(settings)
    run(city, "2025-07")
    published = ranking(wh, "2025-07")
    # A press lands in raw and is claimed, but its bucket is never refreshed (a crash,
    # never replayed).
    stray = presses("HN-80005-2025", date(2025, 7, 20), 1, 0)[0]
    plan = landing.plan(wh, [landing.Message(KIOSK, stray, 3, 1)])
    landing.record(wh, plan)
    landing.insert_raw(wh, plan)
    result = materialize_period("2025-07", city, DagsterInstance.ephemeral())
    assert not result.success
    assert any(
        f.startswith("counts_reconcile_with_raw: hourly counts differ from raw")
        for f in failed_checks(result)
    )
    assert ranking(wh, "2025-07") == published  # nothing was replaced
    start, end = datetime(2025, 6, 30, 17, tzinfo=UTC), datetime(2025, 7, 31, 17, tzinfo=UTC)
    repair(wh, reconcile(wh, start, end))
    run(city, "2025-07")
    assert {r[1]: r[4] for r in ranking(wh, "2025-07")}["80005"] == 33

    # August: only HN-SO-B sends anything; six registered offices are silent.
    land(wh, presses("HN-SO-B", date(2025, 8, 12), 30, 30), random.Random(1))
    result = materialize_period("2025-08", city, DagsterInstance.ephemeral())
    assert not result.success
    assert failed_checks(result) == [
        "no_silent_office: 6 office(s) sent nothing in 2025-08: close them in the registry "
        "or find out why their devices are silent"
    ]
    assert ranking(wh, "2025-08") == []
    wh.close()


def test_report_of_a_partition_renders_in_chromium(
    settings: Settings, city: ClickHouseResource, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    run(city, "2025-07")
    html = Path(str(city.report_dir)) / "ranking-2025-07.html"
    csv_text = (Path(str(city.report_dir)) / "ranking-2025-07.csv").read_text("utf-8-sig")
    assert "Phường Năm" in csv_text and "80007" in csv_text
    shot = tmp_path / "report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium")
        page = browser.new_page(viewport={"width": 1000, "height": 800})
        page.goto(html.as_uri())
        assert page.locator("svg.chart").count() == 2  # communes, departments
        bars = page.locator("rect.bar")
        assert bars.count() == 6  # the ranked units
        assert all(bars.nth(i).is_visible() for i in range(6))
        assert page.locator("line.interval").count() == 6
        assert "Phường Năm" in (page.locator("svg.chart").first.text_content() or "")
        page.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert shot.stat().st_size > 10_000
    print(f"\nreport screenshot: {shot}")


def test_ranking_inputs_are_the_same_on_the_current_engine(
    settings: Settings, city: ClickHouseResource, chdb_schema: Any
) -> None:
    from dataclasses import replace

    from pipelines.assets import read_inputs

    units, offices = registry()
    load_registry(chdb_schema, units, offices, LINEAGE)
    land(chdb_schema, events(), random.Random(5))
    with Warehouse(settings) as wh:
        for key in ("2025-07", "2025", "2025-08"):
            period = Period.parse(key)
            on_server = read_inputs(wh, period, 30)
            on_chdb = read_inputs(chdb_schema, period, 30)
            at = on_server.computed_at
            assert replace(
                on_chdb, computed_at=at, staff=[replace(s, computed_at=at) for s in on_chdb.staff]
            ) == replace(on_server, staff=[replace(s, computed_at=at) for s in on_server.staff])
            assert silent_offices(wh, period) == silent_offices(chdb_schema, period)
        assert len(read_inputs(wh, Period.parse("2025-07"), 30).staff) == 2
        # The published rows through the city views, on both engines.
        run(city, "2025-07")
        period = Period.parse("2025-07")
        published = ranking(wh, "2025-07")
        inputs = read_inputs(chdb_schema, period, 30)
        rows = build_ranking(
            period,
            inputs.counts,
            Weights(),
            30,
            inputs.computed_at,
            previous=inputs.previous,
            registry_version=1,
        )
        publish(chdb_schema, period, rows)
        publish_staff(chdb_schema, period, inputs.staff)
        query = (
            "SELECT unit_code, rank, n_ranked, score, trend, reason FROM ranking_monthly "
            "ORDER BY unit_code"
        )
        assert chdb_schema.execute(query) == wh.execute(query)
        assert [r[1] for r in published] == [r[0] for r in wh.execute(query)]
        query = "SELECT staff_id, k_n, k_sat, score, reason FROM staff_scores_monthly ORDER BY 1"
        assert chdb_schema.execute(query) == wh.execute(query)
