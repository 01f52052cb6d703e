"""The registry's content: administrative units, one-stop offices and lineage, read from
GSO-style CSV files, checked and fingerprinted; no database (``warehouse/registry.py``
stores it in versions, the simulator reads the offices from here).

Units come from GSO code files like ``hailong/data/hanoi/*.csv`` (columns code, name,
type, level, parent_code, valid_from, valid_to); the lineage file says which 2024 units
each 2025 unit was formed from. An office belongs to one unit in each of its validity
intervals.

Hanoi's offices, until the city supplies its own list: each unit below the city gets
one one-stop office, ``HN-<unit code>``. On 2025-07-01 the office of an old ward whose
code the new commune kept (every one of the 126 did) carries on as the new commune's
office: same ``office_id``, a second validity interval under the new unit. So a commune
born in the merger has a history, through the office it grew from. The other old
offices close on 2025-06-30. Departments (``hanoi_departments.csv``) keep their offices.
"""

from __future__ import annotations

import csv
import hashlib
import json
from collections.abc import Sequence
from dataclasses import astuple, dataclass
from datetime import date
from importlib import resources
from itertools import pairwise
from pathlib import Path

from hailong.errors import HailongError

HANOI_2024 = "hanoi_units_2024.csv"
HANOI_2025 = "hanoi_units_2025.csv"
HANOI_LINEAGE = "hanoi_units_2025_lineage.csv"
# A few of the city's departments (sở), each with a one-stop office; ranked as a peer
# group of their own. No official codes exist for them: codes are Hailong's own.
HANOI_DEPARTMENTS = "hanoi_departments.csv"
# The day the 2024 units end when their file gives no start (they predate the data).
_OPEN_START = date(1970, 1, 1)


class RegistryError(HailongError):
    """The registry's content is inconsistent (e.g. an office in two units at once)."""


@dataclass(frozen=True)
class Unit:
    code: str
    name: str
    type: str
    level: str
    parent_code: str
    valid_from: date
    valid_to: date | None


@dataclass(frozen=True)
class Office:
    """An office in one unit, from ``valid_from`` to ``valid_to`` (inclusive); unset
    bounds are the unit's own."""

    office_id: str
    name: str
    unit: Unit
    valid_from: date | None = None
    valid_to: date | None = None

    @property
    def starts(self) -> date:
        return self.valid_from or self.unit.valid_from

    @property
    def ends(self) -> date | None:
        return self.valid_to or self.unit.valid_to


@dataclass(frozen=True)
class Lineage:
    new_code: str
    new_name: str
    old_code: str
    old_name: str
    coverage: str  # full | partial


@dataclass(frozen=True)
class LoadResult:
    version: int
    created: bool  # False: the content equals the latest version, nothing was written
    units: int
    offices: int
    lineage: int


def _text(source: str | Path) -> str:
    path = Path(source)
    if path.exists():
        return path.read_text("utf-8")
    return (resources.files("hailong") / "data" / "hanoi" / str(source)).read_text("utf-8")


UNIT_COLUMNS = ("code", "name", "type", "level", "parent_code", "valid_from", "valid_to")
OFFICE_COLUMNS = ("office_id", "name", "unit_code", "valid_from", "valid_to")
LINEAGE_COLUMNS = ("new_code", "new_name", "old_code", "old_name", "coverage")
LEVELS = ("city", "province", "district", "ward", "commune", "department")


def _rows(source: str | Path, columns: Sequence[str]) -> list[tuple[int, dict[str, str]]]:
    """The rows of a CSV file (UTF-8, a header line naming at least ``columns``), each
    with its line number; a missing column is a :class:`RegistryError`."""
    reader = csv.DictReader(_text(source).splitlines())
    missing = [c for c in columns if c not in (reader.fieldnames or [])]
    if missing:
        raise RegistryError(
            f"{source}: missing column(s) {', '.join(missing)} (the header "
            f"must name {', '.join(columns)})"
        )
    return [
        (n, {k: (v or "").strip() for k, v in row.items() if k is not None})
        for n, row in enumerate(reader, start=2)
    ]


def _day(source: str | Path, line: int, column: str, text: str) -> date | None:
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise RegistryError(
            f"{source}, line {line}: {column} {text!r} is not a date (YYYY-MM-DD)"
        ) from None


def read_units(source: str | Path) -> list[Unit]:
    """Units of a CSV file (columns :data:`UNIT_COLUMNS`; an empty ``valid_from``: since
    ever, an empty ``valid_to``: still valid): a path, or the name of a file shipped in
    hailong/data/hanoi."""
    units = []
    for n, row in _rows(source, UNIT_COLUMNS):
        if not row["code"] or not row["name"]:
            raise RegistryError(f"{source}, line {n}: a unit needs a code and a name")
        if row["level"] not in LEVELS:
            raise RegistryError(
                f"{source}, line {n}: level {row['level']!r} is not one of {', '.join(LEVELS)}"
            )
        start = _day(source, n, "valid_from", row["valid_from"]) or _OPEN_START
        end = _day(source, n, "valid_to", row["valid_to"])
        if end is not None and end < start:
            raise RegistryError(f"{source}, line {n}: valid_to {end} is before valid_from {start}")
        units.append(
            Unit(
                row["code"], row["name"], row["type"], row["level"], row["parent_code"], start, end
            )
        )
    seen: set[tuple[str, date]] = set()
    for u in units:
        if (u.code, u.valid_from) in seen:
            raise RegistryError(f"{source}: unit {u.code} from {u.valid_from} is listed twice")
        seen.add((u.code, u.valid_from))
    return units


def read_offices(source: str | Path, units: Sequence[Unit]) -> list[Office]:
    """Offices of a CSV file (columns :data:`OFFICE_COLUMNS`): each row is one office in
    one unit over one interval (empty dates: the unit's own). The unit is the one with
    ``unit_code`` valid on the row's first day (codes can be reused by a later unit)."""
    offices = []
    for n, row in _rows(source, OFFICE_COLUMNS):
        if not row["office_id"]:
            raise RegistryError(f"{source}, line {n}: an office needs an office_id")
        start = _day(source, n, "valid_from", row["valid_from"])
        end = _day(source, n, "valid_to", row["valid_to"])
        same_code = [u for u in units if u.code == row["unit_code"]]
        if not same_code:
            raise RegistryError(
                f"{source}, line {n}: unit {row['unit_code']!r} is not in the units file"
            )
        day = start or min(u.valid_from for u in same_code)
        unit = next(
            (
                u
                for u in same_code
                if u.valid_from <= day and (u.valid_to is None or day <= u.valid_to)
            ),
            None,
        )
        if unit is None:
            raise RegistryError(
                f"{source}, line {n}: unit {row['unit_code']} does not exist on {day}"
            )
        office = Office(row["office_id"], row["name"] or row["office_id"], unit, start, end)
        if office.ends is not None and office.ends < office.starts:
            raise RegistryError(f"{source}, line {n}: the office ends before it starts")
        offices.append(office)
    return offices


def read_lineage(source: str | Path) -> list[Lineage]:
    """Lineage of a CSV file (columns :data:`LINEAGE_COLUMNS`; coverage full|partial)."""
    out = []
    for n, r in _rows(source, LINEAGE_COLUMNS):
        if r["coverage"] not in ("full", "partial"):
            raise RegistryError(
                f"{source}, line {n}: coverage {r['coverage']!r} is not full or partial"
            )
        out.append(
            Lineage(r["new_code"], r["new_name"], r["old_code"], r["old_name"], r["coverage"])
        )
    return out


def default_offices(units: list[Unit], prefix: str = "HN", level: str = "commune") -> list[Office]:
    """One one-stop office per unit of ``level``."""
    return [
        Office(f"{prefix}-{u.code}", f"Bộ phận Một cửa {u.name}", u)
        for u in units
        if u.level == level
    ]


def merged_offices(
    old: list[Unit], new: list[Unit], lineage: list[Lineage], prefix: str = "HN"
) -> list[Office]:
    """Offices across a merger (see the module docstring): each old unit below the city
    has an office until its end; from the new units' start, the office of the old unit
    whose code a new unit kept belongs to the new unit."""
    parts = {(x.new_code, x.old_code) for x in lineage}
    offices = [
        Office(f"{prefix}-{u.code}", f"Bộ phận Một cửa {u.name}", u)
        for u in old
        if u.level != "city"
    ]
    for u in new:
        if u.level == "city":
            continue
        name = f"Bộ phận Một cửa {u.name}"
        if (u.code, u.code) in parts:  # carries on from the old unit with its code
            offices.append(Office(f"{prefix}-{u.code}", name, u))
        else:
            offices.append(Office(f"{prefix}-{u.code}-{u.valid_from:%Y}", name, u))
    return offices


def checksum(units: Sequence[Unit], offices: Sequence[Office], lineage: Sequence[Lineage]) -> str:
    canonical = json.dumps(
        [
            sorted(map(repr, map(astuple, units))),
            sorted(
                repr((o.office_id, o.name, o.unit.code, o.unit.valid_from, o.starts, o.ends))
                for o in offices
            ),
            sorted(map(repr, map(astuple, lineage))),
        ],
        ensure_ascii=False,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def check_offices(offices: list[Office]) -> None:
    """An office may not belong to two units at once."""
    by_id: dict[str, list[Office]] = {}
    for o in offices:
        by_id.setdefault(o.office_id, []).append(o)
    for office_id, spans in by_id.items():
        spans.sort(key=lambda o: o.starts)
        for a, b in pairwise(spans):
            if a.ends is None or a.ends >= b.starts:
                raise RegistryError(
                    f"office {office_id} belongs to units {a.unit.code} and "
                    f"{b.unit.code} at once (from {b.starts})"
                )


def hanoi_registry() -> tuple[list[Unit], list[Office], list[Lineage]]:
    """Hanoi: the 2024 units, the 2025 units with lineage, the departments, offices."""
    old, new = read_units(HANOI_2024), read_units(HANOI_2025)
    lineage = read_lineage(HANOI_LINEAGE)
    departments = read_units(HANOI_DEPARTMENTS)
    offices = merged_offices(old, new, lineage) + default_offices(departments, level="department")
    return old + new + departments, offices, lineage


@dataclass(frozen=True)
class OfficeCalendar:
    """Which offices the registry has on which local days (one registry version): what
    the stream worker checks an event's office against (``streams/plausible.py``)."""

    version: int  # 0: no registry loaded (then no office is registered)
    spans: dict[str, tuple[tuple[date, date | None], ...]]

    def registered(self, office_id: str, day: date) -> bool:
        """Whether ``office_id`` is an office on local day ``day`` (bounds inclusive)."""
        for start, end in self.spans.get(office_id, ()):
            if start <= day and (end is None or day <= end):
                return True
        return False
