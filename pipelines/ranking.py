"""Monthly and annual rankings of units (methodology v1, "Rankings"), as pure code.

:func:`build_ranking` turns the unit counts of one period (``warehouse/sql/
unit_counts.sql``) into ranking rows; :func:`publish` replaces the period's rows in
ClickHouse. The Dagster assets in ``pipelines/assets.py`` call both.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass, fields
from datetime import UTC, date, datetime, time
from pathlib import Path

from hailong.methodology import (
    LOCAL_TZ,
    METHODOLOGY_VERSION,
    Counts,
    Weights,
    competition_ranks,
    ineligibility,
    score,
)
from warehouse.client import Warehouse, sql


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
class UnitCounts:
    peer_group: str
    unit_code: str
    unit_name: str
    offices: int
    k_n: int
    k_sat: int
    q_n: int = 0
    c_n: int = 0
    c_pos: int = 0
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


@dataclass(frozen=True)
class RankingRow:
    """One row of the ``rankings`` table (same column order)."""

    period: str
    peer_group: str
    unit_code: str
    unit_name: str
    offices: int
    k_n: int
    k_sat: int
    q_n: int
    c_n: int
    c_pos: int
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


def unit_counts(
    wh: Warehouse, period: Period, offices_of: Period | None = None
) -> list[UnitCounts]:
    """Every unit's counts in the period (all channels), from ClickHouse: the sums over
    the offices that belong to the unit on the last day of ``offices_of`` (default: the
    period itself; the previous period's counts over today's offices give the trend)."""
    p = {
        "start_s": period.start_s,
        "end_s": period.end_s,
        "last_day": (offices_of or period).last_day.isoformat(),
    }
    criteria: dict[str, list[tuple[str, str, str, int, int]]] = {}
    for unit, q, aspect, criterion, a, s in wh.execute(sql("unit_criteria"), p):
        criteria.setdefault(unit, []).append((q, aspect, criterion, int(a), int(s)))
    return [
        UnitCounts(
            group,
            code,
            name,
            int(offices),
            int(k_n),
            int(k_sat),
            int(q_n),
            int(c_n),
            int(c_pos),
            tuple(criteria.get(code, ())),
        )
        for group, code, name, offices, k_n, k_sat, q_n, c_n, c_pos in wh.execute(
            sql("unit_counts"), p
        )
    ]


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


def publish(wh: Warehouse, period: Period, rows: Sequence[RankingRow]) -> None:
    """Replace the period's rows: drop its partition, insert the new rows."""
    wh.execute("ALTER TABLE rankings DROP PARTITION %(period)s", {"period": period.key})
    wh.insert("rankings", RANKING_COLUMNS, [astuple(r) for r in rows])


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


def staff_scores(
    wh: Warehouse, period: Period, min_sample: int, computed_at: datetime
) -> list[StaffRow]:
    """Each civil servant's kiosk score in the period, with the units' minimum sample
    (on K_n alone: kiosks are the only channel that names a civil servant)."""
    p = {
        "start_s": period.start_s,
        "end_s": period.end_s,
        "start_us": period.start_s * 1_000_000,
        "end_us": period.end_s * 1_000_000,
        "last_day": period.last_day.isoformat(),
    }
    rows = []
    for office_id, unit_code, staff_id, k_n, k_sat in wh.execute(sql("staff_counts"), p):
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


def publish_staff(wh: Warehouse, period: Period, rows: Sequence[StaffRow]) -> None:
    """Replace the period's staff scores."""
    wh.execute("ALTER TABLE staff_scores DROP PARTITION %(period)s", {"period": period.key})
    wh.insert("staff_scores", tuple(f.name for f in fields(StaffRow)), [astuple(r) for r in rows])


def write_ranking_report(rows: Sequence[RankingRow], out_dir: Path) -> tuple[Path, Path]:
    """The period's report files (CSV and HTML with a chart), from its ranking rows."""
    from pipelines.report import Report, ReportRow, report_title, weights_text, write_report

    if not rows:
        raise ValueError("no ranking rows to report")
    first = rows[0]
    report = Report(
        period=first.period,
        title=report_title(first.period),
        methodology_version=first.methodology_version,
        weights=weights_text(first.weights),
        min_sample=first.min_sample,
        input_checksum=first.input_checksum,
        generated_at=first.computed_at,
    )
    return write_report(
        report,
        [
            ReportRow(
                peer_group=r.peer_group,
                unit_code=r.unit_code,
                unit_name=r.unit_name,
                rank=r.rank,
                n_ranked=r.n_ranked,
                score=r.score,
                score_lo=r.score_lo,
                score_hi=r.score_hi,
                rank_lo=r.rank_lo,
                rank_hi=r.rank_hi,
                k_n=r.k_n,
                q_n=r.q_n,
                c_n=r.c_n,
                trend=r.trend,
                reason=r.reason,
            )
            for r in rows
        ],
        out_dir,
    )


def read_ranking(wh: Warehouse, period: Period) -> list[tuple[object, ...]]:
    """The published rows of a period, ranked first."""
    return wh.execute(
        "SELECT peer_group, rank, n_ranked, unit_code, unit_name, score, k_n, q_n, reason, "
        "score_lo, score_hi, rank_lo, rank_hi, trend "
        "FROM rankings WHERE period = %(period)s "
        "ORDER BY peer_group, isNull(rank), rank, unit_code",
        {"period": period.key},
    )
