"""Figure 6's ranking job (``bench/figures/rankings.py``) in a child process whose
address space is capped, timed stage by stage: :func:`run_job` starts the child,
:func:`child` runs :func:`timed_job` there (the month's ``materialize_period``, or its
checks alone, or its other stages without Dagster), and :class:`Stages` times each stage
and its peak RSS by wrapping the functions the assets call.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hailong.settings import Settings

# The job's address space: at most MEMORY_CAP, and MEMORY_MARGIN less than the memory
# available when it starts (left to ClickHouse, whose queries may take 4 GB, and the rest).
MEMORY_CAP = 14 << 30
MEMORY_MARGIN = 6 << 30
STAGES = ("read", "check", "bootstrap", "publish")  # the job's, in order


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
    from hailong.settings import load_settings
    from pipelines.ranking import Period
    from pipelines.resources import ClickHouseResource

    stages = Stages()
    stages.wrap(assets, "read_inputs", "read")
    stages.wrap(assets, "unit_samples", "read_qr_submissions")
    stages.wrap(assets, "check_inputs", "check")
    stages.wrap(reconcile, "disowned", "check_claims")  # which raw rows count, by the claims
    # raw → buckets in numpy (each group's rows and streamed buckets are read meanwhile)
    stages.wrap(reconcile, "reference", "check_reference")
    stages.wrap(assets, "bootstrap_intervals", "bootstrap")
    for name in ("publish", "publish_staff", "write_ranking_report"):
        stages.wrap(assets, name, "publish")
    resource_ = ClickHouseResource.from_settings(
        load_settings(clickhouse_database=database, report_dir=report_dir)
    )
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
    limit = max(2 << 30, min(MEMORY_CAP, mem_available() - MEMORY_MARGIN))
    out = tmp / "job.json"
    out.unlink(missing_ok=True)
    proc = subprocess.run(  # noqa: S603 - our own module
        [
            sys.executable,
            "-c",
            "import sys; from bench.figures.ranking_job import child; child(sys.argv[1:])",
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
        env=s.child_environment(),
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
            part("check_claims", "claims"),
            part("check_reference", "recount from raw"),
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
