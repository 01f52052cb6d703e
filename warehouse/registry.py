"""The registry in ClickHouse (``hailong registry``): versions written and read.

What a registry contains and how its CSV files are read is in ``hailong/registry.py``.
Every load computes a checksum of what it would write. The same content again changes
nothing (idempotent); different content becomes registry version N+1, written next to the
earlier versions, never over them (tables ``unit_versions``, ``office_versions``,
``unit_lineage_versions``, ``registry_versions``). The views ``units``, ``offices`` and
``unit_lineage`` show the latest version; rankings record the version they used.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import astuple
from datetime import date, datetime
from pathlib import Path
from typing import NamedTuple

from hailong.clock import SYSTEM, Clock
from hailong.registry import (
    HANOI_2024,
    HANOI_2025,
    HANOI_DEPARTMENTS,
    HANOI_LINEAGE,
    Lineage,
    LoadResult,
    Office,
    OfficeCalendar,
    Unit,
    check_offices,
    checksum,
    hanoi_registry,
    read_lineage,
    read_offices,
    read_units,
)
from warehouse.client import Warehouse


def load_registry(
    wh: Warehouse,
    units: list[Unit],
    offices: list[Office],
    lineage: Sequence[Lineage] = (),
    source: str = "",
    clock: Clock = SYSTEM,
) -> LoadResult:
    """Write a new registry version, unless the latest has the same content."""
    check_offices(offices)
    digest = checksum(units, offices, list(lineage))
    latest = wh.execute(
        "SELECT version, checksum FROM registry_versions ORDER BY version DESC LIMIT 1"
    )
    if latest and latest[0][1] == digest:
        return LoadResult(int(latest[0][0]), False, len(units), len(offices), len(lineage))
    version = int(latest[0][0]) + 1 if latest else 1
    wh.insert(
        "unit_versions",
        (
            "registry_version",
            "code",
            "name",
            "type",
            "level",
            "parent_code",
            "valid_from",
            "valid_to",
        ),
        [(version, *astuple(u)) for u in units],
    )
    wh.insert(
        "office_versions",
        (
            "registry_version",
            "office_id",
            "name",
            "unit_code",
            "unit_valid_from",
            "valid_from",
            "valid_to",
        ),
        [
            (version, o.office_id, o.name, o.unit.code, o.unit.valid_from, o.starts, o.ends)
            for o in offices
        ],
    )
    if lineage:
        wh.insert(
            "unit_lineage_versions",
            ("registry_version", "new_code", "new_name", "old_code", "old_name", "coverage"),
            [(version, *astuple(x)) for x in lineage],
        )
    # Last: the version becomes visible only once all its rows are in.
    wh.insert(
        "registry_versions",
        ("version", "loaded_at", "checksum", "units", "offices", "lineage", "source"),
        [
            (
                version,
                clock.now().replace(microsecond=0, tzinfo=None),
                digest,
                len(units),
                len(offices),
                len(lineage),
                source,
            )
        ],
    )
    return LoadResult(version, True, len(units), len(offices), len(lineage))


def load_files(
    wh: Warehouse, units: Path, offices: Path, lineage: Path | None = None, clock: Clock = SYSTEM
) -> LoadResult:
    """Load a city's registry from CSV files (documented in warehouse/README.md): the
    same versioning as Hanoi's (an unchanged content keeps the version)."""
    u = read_units(units)
    o = read_offices(offices, u)
    x = read_lineage(lineage) if lineage else []
    names = ", ".join(p.name for p in (units, offices, lineage) if p)
    return load_registry(wh, u, o, x, source=names, clock=clock)


def load_hanoi(wh: Warehouse) -> LoadResult:
    units, offices, lineage = hanoi_registry()
    return load_registry(
        wh,
        units,
        offices,
        lineage,
        source=f"{HANOI_2024}, {HANOI_2025}, {HANOI_LINEAGE}, {HANOI_DEPARTMENTS}",
    )


class Version(NamedTuple):
    """A row of ``registry_versions``: one loaded registry version."""

    version: int
    loaded_at: datetime
    units: int
    offices: int
    lineage: int
    source: str


def versions(wh: Warehouse) -> list[Version]:
    """Every registry version loaded, oldest first (``hailong registry show``)."""
    return wh.records(
        Version, f"SELECT {', '.join(Version._fields)} FROM registry_versions ORDER BY version"
    )


def registry_version(wh: Warehouse) -> int:
    """The latest registry version (0: none loaded)."""
    return int(wh.execute("SELECT max(version) FROM registry_versions")[0][0] or 0)


def office_calendar(wh: Warehouse) -> OfficeCalendar:
    """The offices' validity intervals of the latest registry version."""
    version = registry_version(wh)
    spans: dict[str, list[tuple[date, date | None]]] = {}
    for office_id, start, end in wh.execute(
        "SELECT office_id, valid_from, valid_to FROM office_versions "
        "WHERE registry_version = %(v)s",
        {"v": version},
    ):
        spans.setdefault(office_id, []).append((start, end))
    return OfficeCalendar(version, {o: tuple(s) for o, s in spans.items()})


def office_units(wh: Warehouse) -> dict[str, str]:
    """Each office's unit: its latest validity interval in the registry's latest version."""
    return dict(
        wh.execute(
            "SELECT office_id, argMax(unit_code, valid_from) FROM offices GROUP BY office_id"
        )
    )


def office_names(wh: Warehouse) -> dict[str, str]:
    """Each office's name, as above (for pages that name the office)."""
    return dict(
        wh.execute("SELECT office_id, argMax(name, valid_from) FROM offices GROUP BY office_id")
    )
