"""The benchmark suite's frame: figures, repeated runs, the table and the JSON file.

A *figure* measures one thing on the real local stack and returns named values (e.g.
``{"events_per_s": 41250.0}``). ``python -m bench`` runs every figure ``repeat`` times,
reports the median and the spread (min-max) of each value, and, where a figure names
its reference, the ratio of its median to the reference's median (e.g. Hailong's
stream processor against the Python and native ingest limits).

Each run gets a :class:`Lab`: fresh topics (prefix ``bench.<id>.``) and a fresh
database on the local stack, removed afterwards, so figures never see each other's
data. Figure modules live in ``bench/figures/`` and export ``FIGURES``.
"""

from __future__ import annotations

import json
import platform
import statistics
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from hailong.clock import SYSTEM
from hailong.settings import Settings

Progress = Callable[[str], None]


@dataclass
class Lab:
    """One run's private corner of the stack, and the run's scale."""

    settings: Settings  # its own topic prefix, consumer group and database
    quick: bool  # small sizes, for a smoke run
    progress: Progress
    repeat: int = 1  # for a figure that repeats its measurement itself (Figure.repeats_itself)


@dataclass(frozen=True)
class Value:
    """One measured quantity of a figure. ``reference``: 'figure_key.value_name' whose
    median this value is compared with (ratio = this / reference). ``difference``: a
    value no run returns, the median of the first 'figure_key.value_name' less the
    median of the second (e.g. the worker's CPU per event less the bare faust agent's),
    reported when both were measured."""

    name: str
    unit: str
    reference: str | None = None
    higher_is_better: bool = True
    difference: tuple[str, str] | None = None


@dataclass(frozen=True)
class Figure:
    key: str  # '1-ingest-python', ...
    title: str
    values: tuple[Value, ...]
    # a run returns each value once, or (repeats_itself) a list of lab.repeat values
    run: Callable[[Lab], Mapping[str, float | list[float]]]
    note: str = ""
    # run once, measuring lab.repeat times on the same data (its set-up costs more than
    # its measurement: figure 6 writes and buckets up to 30M events before each job)
    repeats_itself: bool = False


@dataclass
class Result:
    figure: str
    title: str
    value: str
    unit: str
    runs: list[float]
    median: float
    low: float
    high: float
    reference: str | None
    ratio: float | None = None


@dataclass
class Report:
    started_at: str
    machine: dict[str, str]
    repeat: int
    quick: bool
    results: list[Result] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


@contextmanager
def lab(quick: bool, progress: Progress, repeat: int = 1, **more: Any) -> Iterator[Lab]:
    """Fresh topics and database for one run; both removed afterwards (the tests' own
    :func:`tests.scratch.scratch`). ``more``: further settings (``cluster=True``: on the
    stack's cluster profile)."""
    from tests.scratch import scratch
    from warehouse.client import Warehouse
    from warehouse.registry import load_hanoi

    # The events are of a fixed past month (bench/preload.py): no horizon. The office
    # check runs, against the Hanoi registry, as in production. Unsigned events, no
    # signature check: figure 3s measures the worker with signed events and the check.
    with scratch(
        f"bench_{uuid.uuid4().hex[:8]}", late_horizon_days=0, require_signatures=False, **more
    ) as s:
        with Warehouse(s) as wh:
            load_hanoi(wh)
        yield Lab(s, quick, progress, repeat)


def machine() -> dict[str, str]:
    import os

    mem = ""
    try:
        with open("/proc/meminfo") as f:
            mem = f.readline().split(":", 1)[1].strip()
    except OSError:
        pass
    cpu = ""
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(
                (line.split(":", 1)[1].strip() for line in f if line.startswith("model name")), ""
            )
    except OSError:
        pass
    return {
        "host": platform.node(),
        "cpus": str(os.cpu_count()),
        "cpu": cpu,
        "memory": mem,
        "python": platform.python_version(),
        "os": platform.platform(),
    }


def summarise(figures: list[Figure], runs: dict[str, dict[str, list[float]]]) -> list[Result]:
    measured = {
        f"{key}.{name}": statistics.median(xs)
        for key, values in runs.items()
        for name, xs in values.items()
        if xs
    }
    results = []
    for fig in figures:
        for v in fig.values:
            xs = runs.get(fig.key, {}).get(v.name, [])
            if v.difference is not None:
                minuend, subtrahend = (measured.get(name) for name in v.difference)
                xs = (
                    [minuend - subtrahend] if minuend is not None and subtrahend is not None else []
                )
            if not xs:
                continue
            results.append(
                Result(
                    fig.key,
                    fig.title,
                    v.name,
                    v.unit,
                    xs,
                    statistics.median(xs),
                    min(xs),
                    max(xs),
                    v.reference,
                )
            )
    medians = {f"{r.figure}.{r.value}": r.median for r in results}
    for r in results:
        if r.reference and medians.get(r.reference):
            r.ratio = r.median / medians[r.reference]
    return results


def number(x: float) -> str:
    """A value for people: whole with thousands separators from 1,000 up, else 4 digits."""
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def table(results: list[Result]) -> str:
    lines = [
        f"{'figure':<18} {'value':<24} {'median':>10} {'spread (min-max)':>20} {'unit':<10} ratio"
    ]
    for r in results:
        spread = f"{number(r.low)}-{number(r.high)}"
        ratio = f"{r.ratio:.3g} of {r.reference}" if r.ratio is not None else ""
        lines.append(
            f"{r.figure:<18} {r.value:<24} {number(r.median):>10} {spread:>20} {r.unit:<10} {ratio}"
        )
    return "\n".join(lines)


def write_json(report: Report, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(asdict(report), indent=2, ensure_ascii=False) + "\n")


def now() -> str:
    return SYSTEM.now().replace(microsecond=0).isoformat()
