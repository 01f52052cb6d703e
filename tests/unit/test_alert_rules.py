"""Issue 14's rules and the life of an alert, on small deterministic cases."""

from __future__ import annotations

import random

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.alert_book import CredibleDrop, IndexBelow, NegativeShare, RuleBook, VolumeDrop
from streams.alert_life import (
    ACKNOWLEDGED,
    RAISED,
    RESOLVED,
    Policy,
    Track,
    acknowledge,
    alert_id,
    resolve,
    snooze,
    step,
)
from streams.alert_rules import (
    Finding,
    Hour,
    credible_drop,
    index_below,
    negative_share,
    volume_drop,
    wilson,
)
from warehouse.alerts import AlertError

DAY = 24
NOW = 480_009  # an hour number (16:00 in Hanoi); nothing here depends on the date


def office_hours(
    first: int, last: int, per_hour: int, share: float, rng: random.Random
) -> list[Hour]:
    """Ratings from 8:00 to 16:00 of each day, each satisfied with probability ``share``."""
    out = []
    for h in range(first, last + 1):
        if 1 <= h % 24 <= 9:
            sat = sum(rng.random() < share for _ in range(per_hour))
            out.append(Hour(h, per_hour, sat))
    return out


@given(st.integers(0, 500), st.integers(0, 500))
def test_wilson_holds_the_share_and_stays_in_0_1(k: int, extra: int) -> None:
    n = k + extra
    lo, hi = wilson(k, n)
    assert 0 <= lo <= hi <= 1
    if n:
        assert lo <= k / n <= hi
    assert wilson(0, 0) == (0.0, 1.0)


def test_wilson_matches_the_textbook_value() -> None:
    lo, hi = wilson(81, 263)  # Wilson (1927) as quoted by Newcombe (1998): 0.2553-0.3662
    assert round(lo, 4) == 0.2553 and round(hi, 4) == 0.3662
    with pytest.raises(ValueError):
        wilson(5, 3)


def test_a_credible_drop_at_a_big_office_and_noise_at_a_small_one() -> None:
    rng = random.Random(7)
    rule = CredibleDrop()
    before = office_hours(NOW - 31 * DAY, NOW - 8, 20, 0.85, rng)
    dropped = office_hours(NOW - 7, NOW, 20, 0.60, rng)
    found = credible_drop("HN-1", before + dropped, NOW, rule)
    assert found is not None and found.rule == "credible_drop"
    assert found.numbers["window_hi"] < found.numbers["baseline_lo"]
    assert found.numbers["baseline_n"] >= rule.min_baseline
    # No drop: nothing, however many hours are tried.
    steady = office_hours(NOW - 31 * DAY, NOW, 20, 0.85, random.Random(8))
    assert credible_drop("HN-1", steady, NOW, rule) is None
    # A small commune, 2 ratings an hour: a bad hour or two is noise (its window
    # stretches back to 30 ratings, most of them good); a bad day of 16 is credible.
    small = office_hours(NOW - 31 * DAY, NOW - 8, 2, 0.85, rng)
    bad = [Hour(h, 2, 0) for h in range(NOW - 7, NOW + 1) if 1 <= h % 24 <= 9]
    assert len(bad) == 8
    assert credible_drop("HN-2", small + bad[-2:], NOW, rule) is None
    found = credible_drop("HN-2", small + bad, NOW, rule)
    assert found is not None and found.numbers["window_n"] >= rule.min_window
    assert found.numbers["window_hours"] > 8  # stretched back past today
    assert credible_drop("HN-1", before + dropped, NOW, CredibleDrop(enabled=False)) is None


def test_negative_share_index_below_and_volume_drop() -> None:
    assert negative_share("O", [True] * 10, NegativeShare()) is None  # under min_count
    hit = negative_share("O", [False] * 100 + [True] * 16 + [False] * 14, NegativeShare())
    assert hit is not None and hit.numbers["negative"] == 16 and hit.numbers["n"] == 30
    assert negative_share("O", [True] * 14 + [False] * 16, NegativeShare()) is None

    low = [Hour(NOW - i, 10, 4) for i in range(8)]
    assert index_below("O", low, NOW, IndexBelow()) is not None
    assert index_below("O", low, NOW, IndexBelow(threshold=0.3)) is None

    history = [Hour(h, 10, 8) for h in range(NOW - 29 * DAY, NOW - 8) if 1 <= h % 24 <= 9]
    quiet = [Hour(h, 1, 1) for h in range(NOW - 7, NOW + 1) if 1 <= h % 24 <= 9]
    found = volume_drop("O", history + quiet, NOW, VolumeDrop())
    assert found is not None and found.numbers["ratio"] <= 0.3
    usual = [Hour(h, 10, 8) for h in range(NOW - 7, NOW + 1) if 1 <= h % 24 <= 9]
    assert volume_drop("O", history + usual, NOW, VolumeDrop()) is None


def test_rules_are_data_with_overrides_per_unit_and_office() -> None:
    book = RuleBook.model_validate(
        {
            "defaults": {"index_below": {"threshold": 0.6}},
            "units": {"U1": {"index_below": {"threshold": 0.7, "min_hours": 2}}},
            "offices": {
                "O1": {"index_below": {"threshold": 0.8}},
                "O2": {"credible_drop": {"enabled": False}},
            },
        }
    )
    assert book.for_office("O0").index_below.threshold == 0.6
    assert book.for_office("O0", "U1").index_below.threshold == 0.7
    o1 = book.for_office("O1", "U1").index_below
    assert (o1.threshold, o1.min_hours) == (0.8, 2)  # the office over its unit
    assert not book.for_office("O2").credible_drop.enabled
    with pytest.raises(ValueError, match="no alert rule"):
        RuleBook(offices={"O": {"nonsense": {}}}).for_office("O")
    with pytest.raises(ValidationError):
        RuleBook(offices={"O": {"index_below": {"threshold": 2}}}).for_office("O")


FINDING = Finding("index_below", "O", {"share": 0.4})


def test_an_alert_raises_after_its_minimum_duration_and_resolves_itself() -> None:
    policy = Policy(min_hours=2, recover_hours=2, repeat_hours=3)
    track, changes = step(Track(), FINDING, 100, policy, "index_below", "O")
    assert changes == [] and track.streak == 1  # one hour is not enough
    track, changes = step(track, FINDING, 101, policy, "index_below", "O")
    assert [c.kind for c in changes] == ["raised"]
    assert track.alert is not None and track.alert.state == RAISED
    assert track.alert.alert_id == alert_id("O", "index_below", 101)  # same on a replay
    track, changes = step(track, FINDING, 102, policy, "index_below", "O")
    assert changes == []  # still open: not raised twice
    track, changes = step(track, FINDING, 104, policy, "index_below", "O")
    assert [c.kind for c in changes] == ["reminded"]  # nobody acknowledged in 3 hours
    track, changes = step(track, None, 105, policy, "index_below", "O")
    assert changes == []  # one calm hour is not a recovery
    track, changes = step(track, None, 106, policy, "index_below", "O")
    assert [c.kind for c in changes] == ["resolved"]
    assert track.alert is not None and track.alert.resolved_by == "recovered"


def test_people_acknowledge_resolve_and_snooze() -> None:
    policy = Policy(min_hours=1, recover_hours=3, repeat_hours=1)
    track, _ = step(Track(), FINDING, 10, policy, "index_below", "O")
    with pytest.raises(AlertError):
        acknowledge(track, " ", "", 11)
    track, change = acknowledge(track, "chair@HN-1", "staff short today", 11)
    assert change.kind == "acknowledged" and track.alert is not None
    assert track.alert.state == ACKNOWLEDGED and track.alert.comment == "staff short today"
    track, changes = step(track, FINDING, 15, policy, "index_below", "O")
    assert changes == []  # acknowledged: no reminders
    with pytest.raises(AlertError):
        acknowledge(track, "x", "", 16)  # only a raised alert
    track, change = resolve(track, "chair@HN-1", "two more counters open", 16)
    assert track.alert is not None and track.alert.state == RESOLVED
    with pytest.raises(AlertError):
        resolve(track, "x", "", 17)
    # Still holding after a person resolved it: raised again (a new alert).
    track, changes = step(track, FINDING, 17, policy, "index_below", "O")
    assert [c.kind for c in changes] == ["raised"]
    assert changes[0].alert.alert_id != alert_id("O", "index_below", 10)
    # Snoozed: no reminder until the hour given.
    track, _ = snooze(track, 30, "chair@HN-1", 18)
    for hour in range(19, 30):
        track, changes = step(track, FINDING, hour, policy, "index_below", "O")
        assert changes == []
    track, changes = step(track, FINDING, 30, policy, "index_below", "O")
    assert [c.kind for c in changes] == ["reminded"]
    with pytest.raises(AlertError):
        snooze(track, 29, "x", 30)


def test_every_rule_and_setting_is_documented() -> None:
    """streams/ALERTS.md's table names each rule and each of its settings."""
    from pathlib import Path

    from streams.alert_book import RuleSet

    doc = (Path(__file__).parents[2] / "streams" / "ALERTS.md").read_text()
    for rule, model in RuleSet.model_fields.items():
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{rule}")), None)
        assert row is not None, f"{rule} has no row in streams/ALERTS.md"
        for setting in model.annotation.model_fields:  # type: ignore[union-attr]
            assert setting in ("enabled", "repeat_hours") or f"`{setting}`" in row, (rule, setting)
    assert "`repeat_hours`" in doc and "`enabled`" in doc
