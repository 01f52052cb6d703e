"""The registry of administrative units and one-stop offices (``hailong registry load``).

Units come from GSO code files like ``hailong/data/hanoi/*.csv`` (columns code, name,
type, level, parent_code, valid_from, valid_to). Until a city supplies its own office
list, each unit of the chosen file gets one default one-stop office,
``<city prefix>-<unit code>`` (e.g. ``HN-00004``), valid as long as its unit.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from warehouse.client import Warehouse

HANOI_2024 = "hanoi_units_2024.csv"
HANOI_2025 = "hanoi_units_2025.csv"
# A few of the city's departments (sở), each with a one-stop office; ranked as a peer
# group of their own. No official codes exist for them: codes are Hailong's own.
HANOI_DEPARTMENTS = "hanoi_departments.csv"
# The day the 2024 units end when their file gives no start (they predate the data).
_OPEN_START = date(1970, 1, 1)


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
    office_id: str
    name: str
    unit: Unit


def read_units(source: str | Path) -> list[Unit]:
    """Units of a CSV file: a path, or the name of a file shipped in hailong/data/hanoi."""
    path = Path(source)
    if path.exists():
        text = path.read_text("utf-8")
    else:
        text = (resources.files("hailong") / "data" / "hanoi" / str(source)).read_text("utf-8")
    units = []
    for row in csv.DictReader(text.splitlines()):
        units.append(Unit(
            code=row["code"], name=row["name"], type=row["type"], level=row["level"],
            parent_code=row["parent_code"],
            valid_from=date.fromisoformat(row["valid_from"]) if row["valid_from"] else _OPEN_START,
            valid_to=date.fromisoformat(row["valid_to"]) if row["valid_to"] else None,
        ))
    return units


def default_offices(units: list[Unit], prefix: str = "HN", level: str = "commune") -> list[Office]:
    """One one-stop office per unit of ``level``."""
    return [Office(f"{prefix}-{u.code}", f"Bộ phận Một cửa {u.name}", u)
            for u in units if u.level == level]


def load_registry(wh: Warehouse, units: list[Unit], offices: list[Office]) -> tuple[int, int]:
    """Write units and offices; loading the same again changes nothing that is read."""
    version = time.time_ns()
    wh.insert("units", ("code", "name", "type", "level", "parent_code", "valid_from",
                        "valid_to", "version"),
              [(u.code, u.name, u.type, u.level, u.parent_code, u.valid_from, u.valid_to,
                version) for u in units])
    wh.insert("offices", ("office_id", "name", "unit_code", "unit_valid_from", "valid_from",
                          "valid_to", "version"),
              [(o.office_id, o.name, o.unit.code, o.unit.valid_from, o.unit.valid_from,
                o.unit.valid_to, version) for o in offices])
    return len(units), len(offices)


def load_hanoi(wh: Warehouse) -> tuple[int, int]:
    """Hanoi's units before and after 2025-07-01 and its departments, and a default
    office per commune/ward and per department."""
    old, new = read_units(HANOI_2024), read_units(HANOI_2025)
    departments = read_units(HANOI_DEPARTMENTS)
    offices = default_offices(new) + default_offices(departments, level="department")
    return load_registry(wh, old + new + departments, offices)
