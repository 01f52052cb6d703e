"""Methodology v1 (``methodology.md``) as pure functions: channel scores, OSI, ranks.

Everything here works on additive counts, so the same code scores an hour, a 30-day
window, a month or a unit. Nothing here touches Kafka or ClickHouse.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

METHODOLOGY_VERSION = "1"
# Periods (month, year) are calendar periods in this time zone (UTC+7, no DST).
LOCAL_TZ_NAME = "Asia/Ho_Chi_Minh"
LOCAL_TZ = ZoneInfo(LOCAL_TZ_NAME)


@dataclass(frozen=True)
class Counts:
    """Additive counts of one office (or unit) over some period."""

    k_n: int = 0
    k_sat: int = 0
    q_n: int = 0
    # per criterion, keyed (aspect, criterion) — the criterion id may carry its
    # questionnaire, e.g. ("A", "sipas-5/1:A1") —: (a_c answered, s_c of them >= 4)
    criteria: Mapping[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    c_n: int = 0
    c_pos: int = 0

    def __add__(self, other: Counts) -> Counts:
        crit = dict(self.criteria)
        for code, (a, s) in other.criteria.items():
            a0, s0 = crit.get(code, (0, 0))
            crit[code] = (a0 + a, s0 + s)
        return Counts(
            self.k_n + other.k_n,
            self.k_sat + other.k_sat,
            self.q_n + other.q_n,
            crit,
            self.c_n + other.c_n,
            self.c_pos + other.c_pos,
        )


class Weights(BaseModel):
    """Channel weights of the OSI (defaults of methodology v1); recorded with results."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    qr: float = Field(0.50, ge=0)
    kiosk: float = Field(0.35, ge=0)
    camera: float = Field(0.15, ge=0)


@dataclass(frozen=True)
class Scores:
    """Channel scores (0-100, None when the channel is absent) and the OSI."""

    s_kiosk: float | None
    s_qr: float | None
    s_camera: float | None
    osi: float | None


def kiosk_score(c: Counts) -> float | None:
    """S_kiosk = 100 · K_sat / K_n; absent when K_n = 0."""
    return 100.0 * c.k_sat / c.k_n if c.k_n else None


def camera_score(c: Counts) -> float | None:
    """S_camera = 100 · C_pos / C_n; absent when C_n = 0."""
    return 100.0 * c.c_pos / c.c_n if c.c_n else None


def qr_score(c: Counts) -> float | None:
    """S_qr: criterion rates p_c → mean per aspect (answered criteria) → mean of aspects."""
    if c.q_n == 0:
        return None
    by_aspect: dict[str, list[float]] = {}
    for (aspect, _criterion), (a, s) in sorted(c.criteria.items()):
        if a > 0:
            by_aspect.setdefault(aspect, []).append(s / a)
    aspect_rates = [sum(r) / len(r) for r in by_aspect.values()]
    return 100.0 * sum(aspect_rates) / len(aspect_rates) if aspect_rates else None


def osi(scores: Mapping[str, float | None], weights: Weights) -> float | None:
    """Σ w·S / Σ w over the present channels; None when no channel is present."""
    w = {"qr": weights.qr, "kiosk": weights.kiosk, "camera": weights.camera}
    present = [(w[ch], s) for ch, s in scores.items() if s is not None]
    total = sum(wt for wt, _ in present)
    if not present or total == 0:
        return None
    return sum(wt * s for wt, s in present) / total


def score(c: Counts, weights: Weights) -> Scores:
    """All channel scores and the OSI of a set of counts."""
    s_k = kiosk_score(c)
    s_q = qr_score(c)
    s_c = camera_score(c)
    return Scores(s_k, s_q, s_c, osi({"qr": s_q, "kiosk": s_k, "camera": s_c}, weights))


def two_decimals(value: float) -> Decimal:
    """The published form of a score: 2 decimals, half up (as people round)."""
    return Decimal(repr(value)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def competition_ranks(scores: Sequence[float]) -> list[int]:
    """Standard competition ranking (1, 2, 2, 4), descending; equal at 2 decimals ties."""
    keys = [two_decimals(s) for s in scores]
    ascending = sorted(keys)
    # rank = 1 + how many are strictly greater
    return [1 + len(ascending) - bisect_right(ascending, k) for k in keys]


def ineligibility(c: Counts, min_sample: int) -> str:
    """Why a unit is not ranked, or '' when it is eligible."""
    n = c.k_n + c.q_n
    if n < min_sample:
        return f"sample too small: K_n + Q_n = {n} < {min_sample}"
    return ""
