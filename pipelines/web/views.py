"""What the dashboard's pages and API make of the reads (:mod:`pipelines.web.data`):
shared reads cached for a while (:class:`Cached`, the registry's maps), league tables
grouped and shortened, rows as JSON or CSV, numbers for a page, and safe redirects."""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

from hailong.clock import Clock
from pipelines.web import data
from warehouse.client import Warehouse

LEAGUE_ROWS = 25  # per peer group on the overview: the first and last; ?all=1 for every one
REGISTRY_TTL_S = 60.0
CITY_LIVE_TTL_S = 10.0  # the whole city's sums, shared by everyone who opens the overview


@dataclass(frozen=True)
class RegistryView:
    unit_of: dict[str, str]
    names: dict[str, str]
    units: dict[str, dict[str, str]]


def read_registry(wh: Warehouse) -> RegistryView:
    """The registry's maps every page needs (read once a minute: ``REGISTRY_TTL_S``; a
    city's registry changes a few times a year)."""
    return RegistryView(data.unit_of(wh), data.office_names(wh), data.units(wh))


T = TypeVar("T")


class Cached(Generic[T]):
    """One read shared by every request for ``ttl_s`` seconds, with the time it was made
    (a page shows it)."""

    def __init__(self, clock: Clock, read: Callable[[Warehouse], T], ttl_s: float) -> None:
        self.clock, self.read, self.ttl_s = clock, read, ttl_s
        self._value: tuple[T, datetime] | None = None
        self._mono = 0.0
        self._lock = threading.Lock()

    def get(self, wh: Warehouse) -> tuple[T, datetime]:
        with self._lock:
            if self._value is None or self.clock.monotonic() - self._mono > self.ttl_s:
                self._value = self.read(wh), self.clock.now()
                self._mono = self.clock.monotonic()
            return self._value


def shortened(
    groups: list[tuple[str, list[dict[str, Any]]]], n: int
) -> list[tuple[str, list[dict[str, Any]]]]:
    """Each group's first and last ``n`` rows (all of a group of at most 2n)."""
    return [(g, rows if len(rows) <= 2 * n else [*rows[:n], *rows[-n:]]) for g, rows in groups]


def safe_next(target: str) -> str:
    """Only a path of this site (no scheme, no host, no //evil.example)."""
    return target if target.startswith("/") and not target.startswith("//") else "/"


def grouped(rows: list[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        groups.setdefault(r["peer_group"], []).append(r)
    return sorted(groups.items())


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    return {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in row.items()}


def to_csv(rows: list[dict[str, Any]]) -> str:
    out = io.StringIO()
    if rows:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(jsonable(r) for r in rows)
    return out.getvalue()


def fmt(value: Any, digits: int = 1) -> str:
    """A number for a page: '—' when absent."""
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    if isinstance(value, datetime):
        return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    return str(value)
