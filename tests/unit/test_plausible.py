"""The quarantine's rules (streams/plausible.py) and the periods a late event touches."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given
from hypothesis import strategies as st

from hailong.registry import OfficeCalendar
from hailong.settings import load_settings
from streams.plausible import DAY_US, Rules, doubts
from warehouse.buckets import epoch_us
from warehouse.staleness import periods_of

T = epoch_us(datetime(2026, 3, 10, 2, 0, tzinfo=UTC))
CAL = OfficeCalendar(
    3, {"HN-1": ((date(2025, 7, 1), None),), "HN-OLD": ((date(1970, 1, 1), date(2025, 6, 30)),)}
)
RULES = Rules(max_skew_us=600_000_000, horizon_us=45 * DAY_US, calendar=CAL)


def test_a_plausible_event_has_no_doubts() -> None:
    assert doubts("HN-1", T, b"HN-1", T + 5_000_000, RULES) == []
    # late but within the horizon (a kiosk offline for 3 days), and at the skew exactly
    assert doubts("HN-1", T - 3 * DAY_US, b"HN-1", T, RULES) == []
    assert doubts("HN-1", T + 600_000_000, b"HN-1", T, RULES) == []


def test_a_key_that_is_not_the_office() -> None:
    for key in (b"HN-2", None, b"", b"HN-1 ", b"\xff\xfe"):
        (why,) = doubts("HN-1", T, key, T, RULES)
        assert "the Kafka key" in why and "'HN-1'" in why


def test_a_time_ahead_of_the_broker_beyond_the_skew() -> None:
    (why,) = doubts("HN-1", T + 601_000_000, b"HN-1", T, RULES)
    assert "601 s ahead of the broker's timestamp 2026-03-10T02:00:00Z" in why
    assert "at most 600 s" in why


def test_older_than_the_horizon() -> None:
    (why,) = doubts("HN-1", T - 46 * DAY_US, b"HN-1", T, RULES)
    assert "46.0 days before the broker's timestamp" in why and "horizon is 45.0" in why
    assert doubts("HN-1", T - 45 * DAY_US, b"HN-1", T, RULES) == []
    no_horizon = Rules(600_000_000, None, None)
    assert doubts("HN-1", T - 4_000 * DAY_US, b"HN-1", T, no_horizon) == []


def test_no_broker_timestamp_skips_the_time_rules_only() -> None:
    assert doubts("HN-1", T + 100 * DAY_US, b"HN-1", None, RULES) == []
    assert len(doubts("HN-9", T, b"HN-1", None, RULES)) == 2


def test_an_office_not_in_the_registry_on_the_events_local_day() -> None:
    (why,) = doubts("HN-9", T, b"HN-9", T, RULES)
    assert "office 'HN-9' is not in the registry (version 3) on 2026-03-10" in why
    # HN-1 exists from 2025-07-01 Hanoi time: 2025-06-30T17:00Z is that day, 16:59Z not
    start = epoch_us(datetime(2025, 6, 30, 17, 0, tzinfo=UTC))
    assert doubts("HN-1", start, b"HN-1", start, RULES) == []
    assert "not in the registry" in doubts("HN-1", start - 1, b"HN-1", start, RULES)[0]
    # a closed office: its last day is in, the day after is not
    assert doubts("HN-OLD", start - 1, b"HN-OLD", start, RULES) == []
    assert doubts("HN-OLD", start, b"HN-OLD", start, RULES) != []
    no_registry = Rules(600_000_000, None, None)
    assert doubts("HN-9", T, b"HN-9", T, no_registry) == []


def test_every_broken_rule_is_given() -> None:
    found = doubts("X", T + 2 * DAY_US, b"Y", T, RULES)
    assert len(found) == 3


def test_rules_from_settings() -> None:
    s = load_settings(max_clock_skew_s=30, late_horizon_days=0)
    r = Rules.from_settings(s, CAL)
    assert (r.max_skew_us, r.horizon_us, r.calendar) == (30_000_000, None, CAL)
    s = load_settings(late_horizon_days=2, quarantine_unregistered=False)
    r = Rules.from_settings(s, CAL)
    assert (r.horizon_us, r.calendar) == (2 * DAY_US, None)


@given(
    office=st.text(max_size=60),
    at=st.integers(0, 2**32 * 1_000_000),
    key=st.none() | st.binary(max_size=100),
    broker=st.none() | st.integers(-(2**63), 2**63 - 1),
)
def test_any_input_gives_a_list_of_reasons(
    office: str, at: int, key: bytes | None, broker: int | None
) -> None:
    found = doubts(office, at, key, broker, RULES)
    assert all(isinstance(w, str) and w for w in found)
    assert (key == office.encode()) == (not any("Kafka key" in w for w in found))


def test_the_periods_of_an_event_are_hanoi_calendar_periods() -> None:
    assert periods_of(epoch_us(datetime(2026, 10, 31, 16, 59, 59, tzinfo=UTC))) == (
        "2026-10",
        "2026",
    )
    assert periods_of(epoch_us(datetime(2026, 10, 31, 17, 0, tzinfo=UTC))) == ("2026-11", "2026")
    assert periods_of(epoch_us(datetime(2026, 12, 31, 17, 0, tzinfo=UTC))) == ("2027-01", "2027")
    assert periods_of(
        epoch_us(datetime(2026, 12, 31, 17, 0, tzinfo=UTC) - timedelta(microseconds=1))
    ) == ("2026-12", "2026")


@given(at=st.integers(0, 2**32 * 1_000_000 - 1))
def test_the_cached_local_day_is_the_local_day(at: int) -> None:
    from hailong.methodology import LOCAL_TZ
    from streams.plausible import QUARTER_US, local_day

    assert local_day(at // QUARTER_US) == datetime.fromtimestamp(at / 1e6, LOCAL_TZ).date()
