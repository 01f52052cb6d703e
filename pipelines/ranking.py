"""Monthly and annual rankings of units (methodology v1, "Rankings"), as pure code:
data in, data out; no ClickHouse client, no clock.

:func:`build_ranking` turns the unit counts of one period (:class:`UnitCounts`, read by
``pipelines/ranking_store.py`` from ``warehouse/sql/unit_counts.sql``) into ranking rows
(:class:`RankingRow`, one per row of the ``rankings`` table): scores, eligibility, ranks
with ties, trends. :func:`staff_rows` does the same for the civil servants' kiosk scores.
Reading the counts and publishing the rows is ``pipelines/ranking_store.py``'s; the
Dagster assets in ``pipelines/assets.py`` call both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime, time

from hailong.methodology import (
    LOCAL_TZ,
    METHODOLOGY_VERSION,
    Counts,
    Weights,
    competition_ranks,
    ineligibility,
    score,
)


@dataclass(frozen=True)
class Period:
    """A calendar month or year in Asia/Ho_Chi_Minh time."""

    key: str  # '2026-11' or '2026'
    start: date  # first local day
    end: date  # first local day after the period

    @classmethod
    def month(cls, year: int, month: int) -> Period:
        end = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
        return cls(f"{year:04d}-{month:02d}", date(year, month, 1), end)

    @classmethod
    def year(cls, year: int) -> Period:
        return cls(f"{year:04d}", date(year, 1, 1), date(year + 1, 1, 1))

    @classmethod
    def parse(cls, text: str) -> Period:
        """'YYYY-MM', 'YYYY-MM-DD' (a Dagster month partition key) or 'YYYY'."""
        parts = text.split("-")
        if len(parts) == 1:
            return cls.year(int(parts[0]))
        return cls.month(int(parts[0]), int(parts[1]))

    def _utc_seconds(self, day: date) -> int:
        return int(datetime.combine(day, time(), LOCAL_TZ).astimezone(UTC).timestamp())

    @property
    def start_s(self) -> int:
        return self._utc_seconds(self.start)

    @property
    def end_s(self) -> int:
        return self._utc_seconds(self.end)

    def previous(self) -> Period:
        """The period before: the previous month, or the previous year."""
        if len(self.key) == 4:
            return Period.year(self.start.year - 1)
        if self.start.month == 1:
            return Period.month(self.start.year - 1, 12)
        return Period.month(self.start.year, self.start.month - 1)

    @property
    def last_day(self) -> date:
        return date.fromordinal(self.end.toordinal() - 1)


@dataclass(frozen=True)
class UnitTotals:
    """A unit of a period's ranking and its counted events per channel: what the
    ranking's input (:class:`UnitCounts`) and its rows (:class:`RankingRow`) share."""

    peer_group: str
    unit_code: str
    unit_name: str
    offices: int
    k_n: int
    k_sat: int
    q_n: int = 0
    c_n: int = 0
    c_pos: int = 0


@dataclass(frozen=True)
class UnitCounts(UnitTotals):
    """A unit's counts in one period (a row of ``warehouse/sql/unit_counts.sql`` with
    its criteria); field order is the checksum's (:func:`checksum`)."""

    # ((questionnaire, aspect, criterion, a_c, s_c), ...), sorted
    criteria: tuple[tuple[str, str, str, int, int], ...] = ()

    def counts(self) -> Counts:
        return Counts(
            k_n=self.k_n,
            k_sat=self.k_sat,
            q_n=self.q_n,
            c_n=self.c_n,
            c_pos=self.c_pos,
            criteria={
                (aspect, f"{q}:{criterion}"): (a, s) for q, aspect, criterion, a, s in self.criteria
            },
        )


@dataclass(frozen=True, kw_only=True)
class RankingRow(UnitTotals):
    """One row of the ``rankings`` table (its columns: :data:`RANKING_COLUMNS`): the
    unit's totals, then its scores, rank and how they were computed."""

    period: str
    s_kiosk: float | None
    s_qr: float | None
    s_camera: float | None
    score: float | None
    score_lo: float | None  # 95% bootstrap interval of the score
    score_hi: float | None
    eligible: int
    reason: str
    rank: int | None
    rank_lo: int | None  # 95% bootstrap interval of the rank (best, worst)
    rank_hi: int | None
    prev_score: float | None  # previous period, over the unit's current offices
    trend: float | None  # score - prev_score
    n_ranked: int
    weights: str
    min_sample: int
    methodology_version: str
    computed_at: datetime
    input_checksum: str
    registry_version: int


RANKING_COLUMNS = tuple(f.name for f in fields(RankingRow))


def checksum(counts: Sequence[UnitCounts]) -> str:
    """sha256 of the period's input counts in a canonical form (anyone can recompute it)."""
    canonical = json.dumps(
        sorted((astuple(c) for c in counts), key=repr), ensure_ascii=False, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Interval:
    """95% bootstrap intervals of a unit's score and rank (rank: best, worst)."""

    score_lo: float | None
    score_hi: float | None
    rank_lo: int | None
    rank_hi: int | None


def build_ranking(
    period: Period,
    counts: Sequence[UnitCounts],
    weights: Weights,
    min_sample: int,
    computed_at: datetime,
    previous: Sequence[UnitCounts] = (),
    intervals: Mapping[str, Interval] | None = None,
    registry_version: int = 0,
) -> list[RankingRow]:
    """Score, check eligibility and rank each peer group; unranked units keep a reason.

    ``previous``: the previous period's counts over each unit's current offices; a unit
    gets a trend when both periods have a score and the previous one has the minimum
    sample too. ``intervals``: bootstrap intervals by unit code."""
    digest = checksum([*counts, *previous])
    before = {c.unit_code: c.counts() for c in previous}
    none = Interval(None, None, None, None)
    weights_json = json.dumps(weights.model_dump(), sort_keys=True)
    rows: list[RankingRow] = []
    for group in sorted({c.peer_group for c in counts}):
        members = [c for c in counts if c.peer_group == group]
        scored = []
        for c in members:
            s = score(c.counts(), weights)
            reason = ineligibility(c.counts(), min_sample)
            if not reason and s.osi is None:
                reason = "no channel present"
            scored.append((c, s, reason))
        ranked = [(c, s) for c, s, reason in scored if not reason]
        ranks = dict(
            zip(
                (c.unit_code for c, _ in ranked),
                competition_ranks([s.osi for _, s in ranked if s.osi is not None]),
                strict=True,
            )
        )
        for c, s, reason in scored:
            prev = before.get(c.unit_code)
            prev_score = score(prev, weights).osi if prev is not None else None
            trend = None
            if (
                prev is not None
                and prev_score is not None
                and s.osi is not None
                and not ineligibility(prev, min_sample)
            ):
                trend = s.osi - prev_score
            iv = (intervals or {}).get(c.unit_code, none)
            rows.append(
                RankingRow(
                    period=period.key,
                    peer_group=group,
                    unit_code=c.unit_code,
                    unit_name=c.unit_name,
                    offices=c.offices,
                    k_n=c.k_n,
                    k_sat=c.k_sat,
                    q_n=c.q_n,
                    c_n=c.c_n,
                    c_pos=c.c_pos,
                    s_kiosk=s.s_kiosk,
                    s_qr=s.s_qr,
                    s_camera=s.s_camera,
                    score=s.osi,
                    score_lo=iv.score_lo,
                    score_hi=iv.score_hi,
                    eligible=int(not reason),
                    reason=reason,
                    rank=ranks.get(c.unit_code),
                    rank_lo=iv.rank_lo if not reason else None,
                    rank_hi=iv.rank_hi if not reason else None,
                    prev_score=prev_score,
                    trend=trend,
                    n_ranked=len(ranked),
                    weights=weights_json,
                    min_sample=min_sample,
                    methodology_version=METHODOLOGY_VERSION,
                    computed_at=computed_at,
                    input_checksum=digest,
                    registry_version=registry_version,
                )
            )
    rows.sort(key=lambda r: (r.peer_group, r.rank is None, r.rank or 0, r.unit_code))
    return rows


@dataclass(frozen=True)
class StaffRow:
    """One row of the ``staff_scores`` table (same column names)."""

    period: str
    office_id: str
    unit_code: str
    staff_id: str
    k_n: int
    k_sat: int
    score: float | None
    eligible: int
    reason: str
    min_sample: int
    methodology_version: str
    computed_at: datetime


STAFF_COLUMNS = tuple(f.name for f in fields(StaffRow))


def staff_rows(
    period: Period,
    counts: Iterable[tuple[str, str | None, str, int, int]],
    min_sample: int,
    computed_at: datetime,
) -> list[StaffRow]:
    """Each civil servant's kiosk score in the period from their counts (office_id,
    unit_code, staff_id, K_n, K_sat), with the units' minimum sample (on K_n alone:
    kiosks are the only channel that names a civil servant)."""
    rows = []
    for office_id, unit_code, staff_id, k_n, k_sat in counts:
        c = Counts(k_n=int(k_n), k_sat=int(k_sat))
        reason = "" if c.k_n >= min_sample else f"sample too small: K_n = {c.k_n} < {min_sample}"
        rows.append(
            StaffRow(
                period.key,
                office_id,
                unit_code or "",
                staff_id,
                c.k_n,
                c.k_sat,
                score(c, Weights()).s_kiosk,
                int(not reason),
                reason,
                min_sample,
                METHODOLOGY_VERSION,
                computed_at,
            )
        )
    return rows
