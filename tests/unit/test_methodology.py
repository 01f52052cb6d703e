"""Methodology v1 formulas and the ranking rules, with hand-computed values."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from hailong.methodology import (
    Counts,
    Weights,
    competition_ranks,
    ineligibility,
    kiosk_score,
    osi,
    qr_score,
    score,
    two_decimals,
)
from pipelines.ranking import Period, UnitCounts, build_ranking, checksum

W = Weights()


def test_kiosk_score_is_share_satisfied() -> None:
    assert kiosk_score(Counts(k_n=40, k_sat=30)) == 75.0
    assert kiosk_score(Counts(k_n=3, k_sat=1)) == pytest.approx(33.333333333)
    assert kiosk_score(Counts()) is None


def test_qr_score_averages_criteria_then_aspects() -> None:
    # A: A1 3/4 = .75, A2 1/2 = .5 → A = .625; P: P1 0/1 = 0 → P = 0; S: S5 2/2 = 1 → S = 1
    # R, F unanswered → absent. S_qr = 100 · (.625 + 0 + 1) / 3 = 54.1666…
    c = Counts(
        q_n=4,
        criteria={
            ("A", "A1"): (4, 3),
            ("A", "A2"): (2, 1),
            ("P", "P1"): (1, 0),
            ("S", "S5"): (2, 2),
            ("R", "R1"): (0, 0),
        },
    )
    assert qr_score(c) == pytest.approx(100 * (0.625 + 0 + 1) / 3)
    assert qr_score(Counts()) is None


def test_osi_renormalises_weights_over_present_channels() -> None:
    assert osi({"qr": 80.0, "kiosk": 60.0, "camera": 40.0}, W) == pytest.approx(
        (0.5 * 80 + 0.35 * 60 + 0.15 * 40) / 1.0
    )
    # camera absent: (0.5·80 + 0.35·60) / 0.85
    assert osi({"qr": 80.0, "kiosk": 60.0, "camera": None}, W) == pytest.approx(61 / 0.85)
    # kiosk alone: its own score, whatever its weight
    assert osi({"qr": None, "kiosk": 72.5, "camera": None}, W) == 72.5
    assert osi({"qr": None, "kiosk": None, "camera": None}, W) is None


def test_score_of_counts_combines_channels() -> None:
    s = score(Counts(k_n=10, k_sat=9, c_n=4, c_pos=1), W)
    assert (s.s_kiosk, s.s_qr, s.s_camera) == (90.0, None, 25.0)
    assert s.osi == pytest.approx((0.35 * 90 + 0.15 * 25) / 0.5)


def test_counts_add_up() -> None:
    a = Counts(k_n=1, k_sat=1, q_n=1, criteria={("A", "A1"): (1, 1)}, c_n=2, c_pos=1)
    b = Counts(k_n=2, k_sat=0, q_n=2, criteria={("A", "A1"): (2, 0), ("P", "P1"): (1, 1)}, c_n=1)
    assert a + b == Counts(
        k_n=3, k_sat=1, q_n=3, criteria={("A", "A1"): (3, 1), ("P", "P1"): (1, 1)}, c_n=3, c_pos=1
    )


def test_competition_ranking_ties_at_two_decimals() -> None:
    # 90.004 and 90.0 both show 90.00 → tie; 90.005 shows 90.01 (half up) → ahead.
    assert competition_ranks([90.004, 90.0, 85.0, 95.0, 90.005]) == [3, 3, 5, 1, 2]
    assert competition_ranks([50.0, 50.0, 50.0]) == [1, 1, 1]
    assert competition_ranks([]) == []
    assert str(two_decimals(2 / 3 * 100)) == "66.67"


def test_eligibility_needs_the_minimum_sample() -> None:
    assert ineligibility(Counts(k_n=29), 30) == "sample too small: K_n + Q_n = 29 < 30"
    assert ineligibility(Counts(k_n=20, q_n=10), 30) == ""


def test_periods_are_local_calendar_months_and_years() -> None:
    nov = Period.parse("2026-11-01")
    assert nov.key == "2026-11"
    # 2026-11-01 00:00 +07:00 = 2026-10-31 17:00 UTC
    assert nov.start_s == int(datetime(2026, 10, 31, 17, tzinfo=UTC).timestamp())
    assert nov.end_s == int(datetime(2026, 11, 30, 17, tzinfo=UTC).timestamp())
    assert nov.last_day.isoformat() == "2026-11-30"
    dec = Period.parse("2026-12")
    assert dec.end_s == int(datetime(2026, 12, 31, 17, tzinfo=UTC).timestamp())
    year = Period.parse("2026")
    assert (year.key, year.last_day.isoformat()) == ("2026", "2026-12-31")


def test_build_ranking_by_hand() -> None:
    counts = [
        UnitCounts("commune", "001", "A", 1, 40, 30),  # 75.00
        UnitCounts("commune", "002", "B", 2, 60, 45),  # 75.00 → ties with A
        UnitCounts("commune", "003", "C", 1, 50, 40),  # 80.00 → 1st
        UnitCounts("commune", "004", "D", 1, 29, 29),  # 100, but 29 < 30 → unranked
        UnitCounts("commune", "005", "E", 1, 30, 20),  # 66.67 → 4th
        UnitCounts("department", "S1", "Sở X", 1, 30, 3),  # own peer group: 1st of 1
    ]
    at = datetime(2026, 12, 1, tzinfo=UTC)
    rows = build_ranking(Period.parse("2026-11"), counts, W, 30, at)
    table = [(r.peer_group, r.unit_code, r.rank, r.n_ranked, r.eligible, r.reason) for r in rows]
    assert table == [
        ("commune", "003", 1, 4, 1, ""),
        ("commune", "001", 2, 4, 1, ""),
        ("commune", "002", 2, 4, 1, ""),
        ("commune", "005", 4, 4, 1, ""),
        ("commune", "004", None, 4, 0, "sample too small: K_n + Q_n = 29 < 30"),
        ("department", "S1", 1, 1, 1, ""),
    ]
    by_code = {r.unit_code: r for r in rows}
    assert by_code["005"].score == pytest.approx(200 / 3)
    assert by_code["004"].score == 100.0  # scored and shown, just not ranked
    assert {r.input_checksum for r in rows} == {checksum(counts)}
    assert {r.weights for r in rows} == {'{"camera": 0.15, "kiosk": 0.35, "qr": 0.5}'}
    assert {r.methodology_version for r in rows} == {"1"}
    # same input, same output; different input, different checksum
    assert build_ranking(Period.parse("2026-11"), list(reversed(counts)), W, 30, at) == rows
    assert checksum(counts[:-1]) != checksum(counts)
