"""One clock: time enters through hailong/clock.py, nowhere else."""

from __future__ import annotations

import ast
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hailong.clock import SYSTEM, TestingClock

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("hailong", "producers", "streams", "warehouse", "pipelines", "infra", "bench")
# Calls that read the wall clock behind the caller's back.
WALL_CLOCK = {
    ("datetime", "now"),
    ("datetime", "utcnow"),
    ("datetime", "today"),
    ("date", "today"),
    ("time", "time"),
    ("time", "time_ns"),
}


def wall_clock_reads(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and isinstance(node.func.value, ast.Name)
            and (node.func.value.id, node.func.attr) in WALL_CLOCK
        ):
            found.append(f"{path.name}:{node.lineno}: {node.func.value.id}.{node.func.attr}()")
    return found


def test_no_module_reads_the_wall_clock_but_the_clock() -> None:
    files = [f for pkg in PACKAGES for f in (ROOT / pkg).rglob("*.py")]
    assert len(files) > 50
    offenders = [
        hit for f in files if f != ROOT / "hailong" / "clock.py" for hit in wall_clock_reads(f)
    ]
    assert offenders == []


def test_the_scan_finds_a_wall_clock_read(tmp_path: Path) -> None:
    sample = tmp_path / "sample.py"
    sample.write_text(
        "import time\nfrom datetime import datetime\n"
        "a = datetime.now()\nb = time.time()\nc = time.monotonic()\n"
    )
    assert [h.split(": ")[1] for h in wall_clock_reads(sample)] == ["datetime.now()", "time.time()"]


def test_testing_clock_moves_only_when_told() -> None:
    start = datetime(2026, 1, 31, 16, 59, 59, tzinfo=UTC)
    clock = TestingClock(start)
    assert clock.now() == start and clock.time() == start.timestamp()
    clock.sleep(1.5)
    assert clock.now() == start + timedelta(seconds=1.5) and clock.monotonic() == 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    with pytest.raises(ValueError):
        TestingClock(datetime(2026, 1, 1))  # naive: refused


def test_the_system_clock_is_aware_utc() -> None:
    now = SYSTEM.now()
    assert now.tzinfo is UTC and abs(now.timestamp() - SYSTEM.time()) < 5
