"""Figure 6: the monthly ranking job's wall time on 1M, 10M and 30M raw events.

For each size, one month (``MONTH``) of raw events is written straight into ClickHouse
with ``INSERT ... SELECT FROM numbers()`` (about 60% kiosk ratings, 25% QR surveys, 15%
camera observations, uniformly over the month's hours and over the offices registered
in Hanoi at its end (``load_hanoi``: 126 communes/wards and the departments), each
office with its own satisfaction level; QR surveys answer 5-22 criteria of sipas-5/1;
three kiosks and two cameras per office). No office hours: at 30M, three kiosks per
office press about every minute day and night, so some presses fall within 4 s of the
previous one and are flagged misuse, as the methodology says.

The hourly buckets are then built with the platform's own refresh, the stream
worker's SQL (``warehouse.channels``: ``refresh_ranges`` of each channel, the path of
``hailong reconcile --repair``): QR and camera over the whole month a few offices at a
time, kiosk a window of hours at a time (see :func:`build_buckets` for why);
``buckets_seconds_*`` is that time (not part of the ranking job).

Then the job runs ``--repeat`` times on the same data (writing and bucketing 30M events
takes longer than the job; the figure runs once and reports every job's values), each
as ``hailong rank --month`` runs it (``materialize_period``: inputs,
the two blocking checks, ranking with bootstrap intervals, publish, report), in a child
process whose address space is capped (``RLIMIT_AS``: ``MEMORY_CAP``, less when the
machine has less free), so that a job that outgrows the machine fails alone with
``MemoryError`` instead of calling the kernel's OOM killer on the stack (the child and
its timings: ``bench/figures/ranking_job.py``). The child times
each stage by wrapping the functions the assets call: ``read`` (``read_inputs``: unit
counts, staff scores, the QR submissions for the bootstrap), ``check``
(``check_inputs``: silent offices and the reconciliation, which recomputes every bucket
of the month from raw, in numpy), ``bootstrap`` (``bootstrap_intervals``) and
``publish`` (rows and report files); the rest of ``seconds_*`` is Dagster (including
storing the inputs between the two assets). ``rss_mb_*`` is the child's peak RSS,
``check_rss_mb_*`` its peak during the checks (the bootstrap's two worker processes,
which draw the replicates in parallel, hold a unit's submissions at a time and are not
counted). After each size the data is dropped.

A size whose job fails (out of memory, a ClickHouse limit, a failed check) has no
``seconds_*``; the reason and the stage are printed, and its parts are then run alone,
each in its own capped child: the checks (``check_inputs``), and the other stages
without Dagster and without the checks (read the inputs, rank with bootstrap, publish),
so that the stage values still say what each part costs, or where it fails.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from bench.core import Figure, Lab, Value
from bench.figures.ranking_job import MODES, describe, failed_in, run_job
from hailong.questionnaire import questionnaires
from pipelines.ranking import Period
from warehouse.client import Warehouse, sql

MONTH = "2025-11"
SIZES = ((1_000_000, "1m"), (10_000_000, "10m"), (30_000_000, "30m"))
QUICK_SIZES = ((20_000, "1m"), (60_000, "10m"), (200_000, "30m"))
SHARES = {"kiosk": 0.60, "qr": 0.25, "camera": 0.15}
INSERT_CHUNK = 5_000_000  # rows per INSERT ... SELECT
REFRESH_ROWS = 2_000_000  # raw rows per bucket refresh (offices per call chosen by it)
KIOSK_WINDOW_PRESSES = 100  # a device's presses per kiosk refresh (see build_buckets)
KIOSKS = 3  # per office
HOUR_US = 3_600_000_000
RAW_TABLES = ("kiosk_ratings_raw", "qr_surveys_raw", "camera_observations_raw")
DERIVED_TABLES = (
    "event_claims",
    "claim_keys",  # a filter of event_claims (migration 0015)
    "qr_token_index",  # raw's QR rows by token (0016): truncated with raw, or stale
    "kiosk_hourly",
    "kiosk_misuse_flags",
    "qr_hourly",
    "qr_criteria_hourly",
    "camera_hourly",
    "rankings",
    "staff_scores",
)

# Per office: satisfaction p in [0.55, 0.97], from a hash of its id.
_P = "(0.55 + (cityHash64(office) % 43) / 100)"

KIOSK_SQL = f"""
INSERT INTO kiosk_ratings_raw (event_id, office_id, device_id, counter_id, staff_id,
    occurred_at, occurred_at_us, scale, value, kafka_partition, kafka_offset, version)
SELECT generateUUIDv4(), office, concat(office, '-K', toString(k)), concat('Q', toString(k)),
       concat(office, '-S', toString(k)), toDateTime(intDiv(t, 1000000), 'UTC'), t,
       toUInt8(5), toUInt8(if(h % 1000 < {_P} * 1000, 4 + intDiv(h, 1000) % 2,
                              1 + intDiv(h, 1000) % 3)),
       toUInt32(number % 12), number, bitNot(number)
FROM
(
    SELECT number,
           arrayElement(%(offices)s, number % length(%(offices)s) + 1) AS office,
           intDiv(number, length(%(offices)s)) % {KIOSKS} + 1 AS k,
           %(start_us)s + toInt64(cityHash64(number, 'kt') % %(span_us)s) AS t,
           cityHash64(number, 'kv') AS h
    FROM numbers(%(first)s, %(count)s)
)
"""

QR_SQL = f"""
INSERT INTO qr_surveys_raw (event_id, token_id, office_id, submitted_at, submitted_at_us,
    questionnaire, answer_codes, answer_aspects, answer_values, overall, kafka_partition,
    kafka_offset, version)
SELECT generateUUIDv4(), concat('T', hex(number)), office,
       toDateTime(intDiv(t, 1000000), 'UTC'), t, 'sipas-5/1', codes,
       arrayMap(c -> arrayElement(%(aspects)s, indexOf(%(codes)s, c)), codes),
       arrayMap(c -> toUInt8(if(cityHash64(number, c) % 1000 < {_P} * 1000,
                                4 + intDiv(cityHash64(number, c), 1000) % 2,
                                1 + intDiv(cityHash64(number, c), 1000) % 3)), codes),
       toUInt8(1 + number % 5), toUInt32(number % 12), number, bitNot(number)
FROM
(
    SELECT number,
           arrayElement(%(offices)s, number % length(%(offices)s) + 1) AS office,
           %(start_us)s + toInt64(cityHash64(number, 'qt') % %(span_us)s) AS t,
           arraySort(arraySlice(arraySort(c -> cityHash64(number, c), %(codes)s), 1,
                                5 + cityHash64(number, 'qn') % 18)) AS codes
    FROM numbers(%(first)s, %(count)s)
)
"""

CAMERA_SQL = f"""
INSERT INTO camera_observations_raw (event_id, office_id, camera_id, observed_at,
    observed_at_us, kind, sentiment, confidence, queue_length, wait_seconds,
    kafka_partition, kafka_offset, version)
SELECT generateUUIDv4(), office, concat(office, '-C', toString(number % 2 + 1)),
       toDateTime(intDiv(t, 1000000), 'UTC'), t, if(queue, 'queue', 'sentiment'),
       if(queue, NULL, multiIf(h % 1000 < {_P} * 1000, 'positive',
                                h % 2 = 0, 'neutral', 'negative')),
       if(queue, NULL, 0.3 + (intDiv(h, 1000) % 701) / 1000),
       if(queue, toUInt32(h % 25), NULL),
       if(queue, toFloat64(h % 3600), NULL),
       toUInt32(number % 12), number, bitNot(number)
FROM
(
    SELECT number,
           arrayElement(%(offices)s, number % length(%(offices)s) + 1) AS office,
           %(start_us)s + toInt64(cityHash64(number, 'ct') % %(span_us)s) AS t,
           cityHash64(number, 'cv') AS h,
           number % 3 = 2 AS queue
    FROM numbers(%(first)s, %(count)s)
)
"""

CLAIMED = {
    "kiosk": ("kiosk_ratings_raw", "occurred_at_us"),
    "qr": ("qr_surveys_raw", "submitted_at_us"),
    "camera": ("camera_observations_raw", "observed_at_us"),
}

# `%` is the driver's parameter mark: the modulo operator is written `%%` to it.
GENERATORS = {
    name: text.replace(" % ", " %% ")
    for name, text in (("kiosk", KIOSK_SQL), ("qr", QR_SQL), ("camera", CAMERA_SQL))
}


# --- data ------------------------------------------------------------------------------
def month_offices(wh: Warehouse, period: Period) -> list[str]:
    """The offices registered in a unit on the period's last day (the ranking's)."""
    rows = wh.execute(sql("office_units"), {"last_day": period.last_day.isoformat()})
    return sorted({r[0] for r in rows if r[1]})


def generate(wh: Warehouse, period: Period, offices: list[str], total: int) -> dict[str, int]:
    """Write ``total`` raw events of the period; return the rows per channel."""
    q = questionnaires()["sipas-5/1"]
    codes = sorted(q.criterion_codes)
    base = {
        "offices": offices,
        "start_us": period.start_s * 1_000_000,
        "span_us": (period.end_s - period.start_s) * 1_000_000,
        "codes": codes,
        "aspects": [q.aspect_of(c) for c in codes],
    }
    counts = {}
    for channel, share in SHARES.items():
        n = round(total * share)
        counts[channel] = n
        for first in range(0, n, INSERT_CHUNK):
            wh.execute(
                GENERATORS[channel], {**base, "first": first, "count": min(INSERT_CHUNK, n - first)}
            )
        # Each generated event is its own, uncontested claim (as the worker records it),
        # so the refresh SQL counts it (warehouse/claims.py).
        table, at = CLAIMED[channel]
        wh.execute(
            f"INSERT INTO event_claims (event_id, channel, kafka_partition, "
            f"kafka_offset, uncontested, office_id, at_us) SELECT event_id, "
            f"'{channel}', kafka_partition, kafka_offset, 1, office_id, {at} "
            f"FROM {table}"
        )
    return counts


def build_buckets(wh: Warehouse, period: Period, offices: list[str], total: int) -> None:
    """Every bucket of the period with the stream worker's own refresh SQL.

    QR and camera: the whole period, a few offices at a time (about REFRESH_ROWS raw
    rows per query). Kiosk: all offices, a window of hours at a time, so that a device
    has at most about KIOSK_WINDOW_PRESSES presses per query: the misuse SQL
    (``kiosk_presses.sql``) builds, per device, an array of its presses and its lambda
    captures that array, which ClickHouse copies once per element: memory grows with
    the square of a device's presses in the range (a whole month at 10M events needs
    more than the 4 GB a query may use)."""
    from warehouse.channels import BY_NAME

    start_us, end_us = period.start_s * 1_000_000, period.end_s * 1_000_000
    for name in ("qr", "camera"):
        per_office = max(1, round(total * SHARES[name]) // len(offices))
        step = max(1, REFRESH_ROWS // per_office)
        for i in range(0, len(offices), step):
            BY_NAME[name].refresh_ranges(wh, {o: (start_us, end_us) for o in offices[i : i + step]})
    hours = (end_us - start_us) // HOUR_US
    per_device_hour = round(total * SHARES["kiosk"]) / (len(offices) * KIOSKS) / hours
    window = max(1, int(KIOSK_WINDOW_PRESSES / max(per_device_hour, 1e-9))) * HOUR_US
    for lo in range(start_us, end_us, window):
        hi = min(lo + window, end_us)
        BY_NAME["kiosk"].refresh_ranges(wh, {o: (lo, hi) for o in offices})


def settle(wh: Warehouse, timeout_s: float = 600.0) -> None:
    """Wait for the database's background merges to finish (data at rest)."""
    deadline = time.monotonic() + timeout_s
    while (
        wh.execute(
            "SELECT count() FROM system.merges WHERE database = %(db)s", {"db": wh.database}
        )[0][0]
        and time.monotonic() < deadline
    ):
        time.sleep(1.0)


def drop_data(wh: Warehouse) -> None:
    for table in RAW_TABLES + DERIVED_TABLES:
        wh.execute(f"TRUNCATE TABLE {table}")


# --- the figure ----------------------------------------------------------------------------
def run(lab: Lab) -> dict[str, float | list[float]]:
    """Each size: write and bucket the data once, then run the job ``lab.repeat`` times on
    it (the job replaces the month's partition each time)."""
    from warehouse.registry import load_hanoi

    s = lab.settings
    period = Period.parse(MONTH)
    values: dict[str, list[float]] = {}

    def add(name: str, value: float) -> None:
        values.setdefault(name, []).append(value)

    with Warehouse(s) as wh, tempfile.TemporaryDirectory(prefix="bench-rank-") as tmp:
        load_hanoi(wh)
        offices = month_offices(wh, period)
        for total, label in QUICK_SIZES if lab.quick else SIZES:
            t0 = time.perf_counter()
            counts = generate(wh, period, offices, total)
            t1 = time.perf_counter()
            build_buckets(wh, period, offices, total)
            t2 = time.perf_counter()
            settle(wh)
            add(f"buckets_seconds_{label}", t2 - t1)
            lab.progress(
                f"{label}: {total:,} raw events ({counts}) over {len(offices)} "
                f"offices written in {t1 - t0:.0f} s, buckets built in "
                f"{t2 - t1:.0f} s, merges settled in {time.perf_counter() - t2:.0f} s"
            )
            for i in range(lab.repeat):
                job = run_job(s, MONTH, Path(tmp))
                if job["success"]:
                    add(f"seconds_{label}", job["seconds"])
                    add(f"rss_mb_{label}", job["rss_mb"])
                    add(f"check_rss_mb_{label}", job["stage_peak_mb"].get("check", 0.0))
                    for stage in ("read", "check", "bootstrap"):
                        add(f"{stage}_seconds_{label}", job["stages"].get(stage, 0.0))
                    lab.progress(f"{label}: ranking job {i + 1}/{lab.repeat}: {describe(job)}")
                    continue
                lab.progress(
                    f"{label}: the ranking job FAILED{failed_in(job)} after "
                    f"{describe(job)}: {job['error']}"
                )
                for mode in ("check", "rank"):
                    part = run_job(s, MONTH, Path(tmp), mode)
                    if not part["success"]:
                        lab.progress(
                            f"{label}: {MODES[mode]} FAILED{failed_in(part)} after "
                            f"{describe(part)}: {part['error']}"
                        )
                        continue
                    lab.progress(f"{label}: {MODES[mode]}: {describe(part)}")
                    if mode == "check":
                        add(f"check_seconds_{label}", part["stages"].get("check", 0.0))
                        add(f"check_rss_mb_{label}", part["stage_peak_mb"].get("check", 0.0))
                    else:
                        for stage in ("read", "bootstrap"):
                            add(f"{stage}_seconds_{label}", part["stages"].get(stage, 0.0))
                break  # a failed job fails again on the same data
            drop_data(wh)
    return dict(values)


def _values() -> tuple[Value, ...]:
    out: list[Value] = []
    for _, label in SIZES:
        out += [
            Value(f"seconds_{label}", "s", higher_is_better=False),
            Value(f"read_seconds_{label}", "s", higher_is_better=False),
            Value(f"check_seconds_{label}", "s", higher_is_better=False),
            Value(f"bootstrap_seconds_{label}", "s", higher_is_better=False),
            Value(f"rss_mb_{label}", "MB", higher_is_better=False),
            Value(f"check_rss_mb_{label}", "MB", higher_is_better=False),
            Value(f"buckets_seconds_{label}", "s", higher_is_better=False),
        ]
    return tuple(out)


FIGURES = [
    Figure(
        key="6-rankings",
        title="Monthly ranking job: wall time on 1M, 10M, 30M raw events",
        values=_values(),
        run=run,
        repeats_itself=True,
        note="one month of raw events over Hanoi's offices, buckets built with the worker's "
        "refresh SQL; `materialize_period` (inputs, checks, ranking, report) in a child "
        "process; stages: read, check (incl. reconciliation from raw), bootstrap, "
        "publish; quick: 20k/60k/200k events under the same names",
    ),
]
