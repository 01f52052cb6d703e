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
``MemoryError`` instead of calling the kernel's OOM killer on the stack. The child times
each stage by wrapping the functions the assets call: ``read`` (``read_inputs``: unit
counts, staff scores, the QR submissions for the bootstrap), ``check``
(``check_inputs``: silent offices and the reconciliation, which recomputes every bucket
of the month in Python from raw), ``bootstrap`` (``bootstrap_intervals``) and
``publish`` (rows and report files); the rest of ``seconds_*`` is Dagster (including
storing the inputs between the two assets). ``rss_mb_*`` is the child's peak RSS,
``check_rss_mb_*`` its peak during the checks. After each size the data is dropped.

A size whose job fails (out of memory, a ClickHouse limit, a failed check) has no
``seconds_*``; the reason and the stage are printed, and its parts are then run alone,
each in its own capped child: the checks (``check_inputs``), and the other stages
without Dagster and without the checks (read the inputs, rank with bootstrap, publish),
so that the stage values still say what each part costs, or where it fails.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.core import Figure, Lab, Value
from hailong.questionnaire import questionnaires
from hailong.settings import Settings
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
# The job's address space: at most MEMORY_CAP, and MEMORY_MARGIN less than the memory
# available when it starts (left to ClickHouse, whose queries may take 4 GB, and the rest).
MEMORY_CAP = 14 << 30
MEMORY_MARGIN = 6 << 30
STAGES = ("read", "check", "bootstrap", "publish")  # the job's, in order
RAW_TABLES = ("kiosk_ratings_raw", "qr_surveys_raw", "camera_observations_raw")
DERIVED_TABLES = (
    "event_claims",
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


# --- the job, in a child process ---------------------------------------------------------
def mem_available() -> int:
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no MemAvailable in /proc/meminfo")


def status_mb(field: str) -> float:
    """A kB field of /proc/self/status, in MB (VmHWM: peak RSS)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


class Stages:
    """Wall time and peak RSS of named stages, by wrapping the functions they call.

    Peak RSS per stage: the kernel's high-water mark (VmHWM) is read and reset
    (``/proc/self/clear_refs``) at every stage boundary, and each interval's peak is
    credited to every stage running in it (stages nest: ``read_qr_submissions`` runs
    inside ``read``)."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}
        self.peak_mb: dict[str, float] = {}
        self.active: list[str] = []
        self.overall_mb = 0.0
        self.failed_in = ""  # the innermost stage an exception came from

    def _boundary(self) -> None:
        peak = status_mb("VmHWM")
        self.overall_mb = max(self.overall_mb, peak)
        for stage in self.active:
            self.peak_mb[stage] = max(self.peak_mb.get(stage, 0.0), peak)
        try:
            with open("/proc/self/clear_refs", "w") as f:
                f.write("5")  # reset VmHWM to the current RSS
        except OSError:
            pass

    def wrap(self, module: Any, name: str, stage: str) -> None:
        inner: Callable[..., Any] = getattr(module, name)

        def timed(*args: Any, **kwargs: Any) -> Any:
            self._boundary()
            self.active.append(stage)
            t0 = time.perf_counter()
            try:
                return inner(*args, **kwargs)
            except BaseException:
                self.failed_in = self.failed_in or stage
                raise
            finally:
                self.seconds[stage] = self.seconds.get(stage, 0.0) + time.perf_counter() - t0
                self._boundary()
                self.active.remove(stage)

        setattr(module, name, timed)

    def peak(self) -> float:
        self._boundary()
        return self.overall_mb


def causes(error: Any) -> str:
    """A Dagster error and its causes, one line each, innermost last."""
    out: list[str] = []
    while error is not None and len(out) < 6:
        lines = (error.message or "").strip().splitlines()
        out.append(f"{error.cls_name}: {lines[0] if lines else ''}")
        error = error.cause or error.context
    return " <- ".join(out)


MODES = {
    "job": "the ranking job",
    "check": "its checks alone",
    "rank": "its other stages without Dagster and the checks",
}


def timed_job(database: str, month: str, report_dir: str, mode: str) -> dict[str, Any]:
    """Run the month's ranking job in this process, timing its stages (``mode`` "job").
    For sizes whose job does not go through, its parts alone: "check" (the two checks,
    ``check_inputs``), "rank" (read the inputs, rank with bootstrap, publish)."""
    import logging
    from types import SimpleNamespace

    import pipelines.assets as assets
    import warehouse.reconcile as reconcile
    from pipelines.ranking import Period
    from pipelines.resources import ClickHouseResource

    stages = Stages()
    stages.wrap(assets, "read_inputs", "read")
    stages.wrap(assets, "unit_samples", "read_qr_submissions")
    stages.wrap(assets, "check_inputs", "check")
    stages.wrap(reconcile, "reference", "check_reference")  # raw → buckets in Python
    stages.wrap(reconcile, "streamed", "check_streamed")
    stages.wrap(assets, "bootstrap_intervals", "bootstrap")
    for name in ("publish", "publish_staff", "write_ranking_report"):
        stages.wrap(assets, name, "publish")
    resource_ = ClickHouseResource(database=database, report_dir=report_dir)
    period = Period.parse(month)
    t0 = time.perf_counter()
    error = ""
    try:
        if mode == "job":
            result = assets.materialize_period(month, resource_)
            success = result.success
            if not success:
                failures = [
                    causes(e.event_specific_data.error)  # type: ignore[union-attr]
                    for e in result.all_events
                    if e.is_step_failure
                ]
                error = "; ".join(assets.failed_checks(result) + failures)[:2000]
        elif mode == "check":
            with resource_.warehouse() as wh:
                failed = [r.check_name for r in assets.check_inputs(wh, period) if not r.passed]
            success, error = not failed, f"checks failed: {failed}" if failed else ""
        else:
            with resource_.warehouse() as wh:
                inputs = assets.read_inputs(wh, period, resource_.settings().min_sample)
            context = SimpleNamespace(log=logging.getLogger("bench.rankings"))
            assets._rank(context, resource_, inputs)  # type: ignore[arg-type]
            success = True
    except Exception as exc:  # noqa: BLE001 - reported (MemoryError, ClickHouse limits)
        lines = str(exc).strip().splitlines()
        success, error = False, f"{type(exc).__name__}: {lines[0] if lines else ''}"[:2000]
    total = time.perf_counter() - t0
    return {
        "success": success,
        "error": error,
        "seconds": total,
        "stages": stages.seconds,
        "stage_peak_mb": stages.peak_mb,
        "rss_mb": stages.peak(),
        "failed_in": stages.failed_in,
    }


def child(argv: list[str]) -> None:
    """The child process's entry: run the job, write its timings, exit at once."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--database", required=True)
    parser.add_argument("--month", required=True)
    parser.add_argument("--report-dir", required=True)
    parser.add_argument("--max-bytes", type=int, required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", choices=sorted(MODES), default="job")
    args = parser.parse_args(argv)
    resource.setrlimit(resource.RLIMIT_AS, (args.max_bytes, args.max_bytes))
    out = timed_job(args.database, args.month, args.report_dir, args.mode)
    Path(args.out).write_text(json.dumps(out))
    os._exit(0)  # don't wait for Dagster's and librdkafka's threads


def run_job(s: Settings, month: str, tmp: Path, mode: str = "job") -> dict[str, Any]:
    """:func:`timed_job` in a child process whose address space is capped."""
    from bench.preload import worker_env

    limit = max(2 << 30, min(MEMORY_CAP, mem_available() - MEMORY_MARGIN))
    out = tmp / "job.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(  # noqa: S603 - our own module
        [
            sys.executable,
            "-c",
            "import sys; from bench.figures.rankings import child; child(sys.argv[1:])",
            "--database",
            s.clickhouse_database,
            "--month",
            month,
            "--report-dir",
            str(tmp / "reports"),
            "--max-bytes",
            str(limit),
            "--out",
            str(out),
            "--mode",
            mode,
        ],
        env=worker_env(s),
        capture_output=True,
        text=True,
        check=False,
        cwd=Path(__file__).resolve().parents[2],
    )
    if proc.returncode != 0 or not out.exists():
        tail = (proc.stderr or proc.stdout)[-1500:]
        return {
            "success": False,
            "error": f"exit {proc.returncode}: {tail}",
            "seconds": 0.0,
            "stages": {},
            "stage_peak_mb": {},
            "rss_mb": 0.0,
            "failed_in": "",
            "limit_gb": limit / 2**30,
        }
    return {**json.loads(out.read_text()), "limit_gb": limit / 2**30}


def failed_in(job: dict[str, Any]) -> str:
    limit = f"address space capped at {job['limit_gb']:.1f} GiB"
    return f" in {job['failed_in']} ({limit})" if job.get("failed_in") else f" ({limit})"


def describe(job: dict[str, Any]) -> str:
    st, mb = job["stages"], job["stage_peak_mb"]

    def part(stage: str, name: str) -> str:
        if stage not in st:
            return ""
        return f"{name} {st[stage]:.1f} s / {mb.get(stage, 0):,.0f} MB"

    inner = ", ".join(p for p in (part("read_qr_submissions", "QR submissions"),) if p)
    read = part("read", "read") + (f" (of it {inner})" if inner else "")
    inner = ", ".join(
        p
        for p in (
            part("check_reference", "reference from raw"),
            part("check_streamed", "streamed buckets"),
        )
        if p
    )
    check = part("check", "check") + (f" (of it {inner})" if inner else "")
    parts = [read, check, part("bootstrap", "bootstrap"), part("publish", "publish")]
    rest = job["seconds"] - sum(st.get(x, 0.0) for x in STAGES)
    return (
        f"{job['seconds']:.1f} s, peak RSS {job['rss_mb']:,.0f} MB: "
        + ", ".join(p for p in parts if p)
        + f"; the rest (Dagster in the job) {rest:.1f} s"
    )


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
        "process; stages: read, check (incl. reconciliation in Python), bootstrap, "
        "publish; quick: 20k/60k/200k events under the same names",
    ),
]
