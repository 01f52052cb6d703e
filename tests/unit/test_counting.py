"""Which events count (methodology v1), pinned with hand-computed cases."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import UUID

from hailong.counting import (
    HOUR_US,
    Observation,
    Press,
    Submission,
    camera_buckets,
    counted_submissions,
    hour_of,
    kiosk_buckets,
    misuse,
    qr_buckets,
)
from hailong.privacy import PLACEHOLDER, scrub

S = 1_000_000  # one second in µs
T0 = int(datetime(2026, 11, 24, 2, 0, tzinfo=UTC).timestamp()) * S


def press(n: int, t_us: int, value: int = 4, device: str = "D1", scale: int = 4) -> Press:
    return Press(UUID(int=n), "O1", device, t_us, scale, value)


def test_misuse_is_strictly_under_4_seconds() -> None:
    a, b = press(1, T0), press(2, T0 + 3_900_000)  # 3.9 s → misuse
    c = press(3, b.t_us + 4 * S)  # 4.0 s after b → counts
    d = press(4, c.t_us + 4 * S - 1)  # 3.999999 s → misuse
    assert misuse([a, b, c, d]) == {b.event_id, d.event_id}


def test_misuse_counts_from_the_previous_press_counted_or_not() -> None:
    # 0, 3, 6 s: the 6 s press is 3 s after the 3 s press (itself misuse) → misuse too
    ps = [press(1, T0), press(2, T0 + 3 * S), press(3, T0 + 6 * S)]
    assert misuse(ps) == {UUID(int=2), UUID(int=3)}


def test_misuse_is_per_device_and_ties_order_by_event_id() -> None:
    other = press(9, T0 + 1 * S, device="D2")  # another device: independent
    tie_a, tie_b = press(5, T0), press(6, T0)  # same instant: the later id
    assert misuse([tie_b, tie_a, other]) == {tie_b.event_id}


def test_kiosk_buckets_exclude_misuse_and_use_the_top_two_levels() -> None:
    ps = [
        press(1, T0, 4),
        press(2, T0 + 2 * S, 4),
        press(3, T0 + 10 * S, 2),
        press(4, T0 + 20 * S, 3, scale=4),
        press(5, T0 + 30 * S, 2, device="D2", scale=3),
    ]
    # 1 sat; 2 misuse; 3 unsat (2 of 4); 4 sat (3 of 4); 5 sat (2 of 3)
    assert kiosk_buckets(ps) == {("O1", T0): (4, 3, 1)}


def test_a_press_belongs_to_the_hour_of_its_own_timestamp() -> None:
    late_in_hour, early_next = press(1, T0 + HOUR_US - 1 * S), press(2, T0 + HOUR_US + 2 * S)
    assert hour_of(late_in_hour.t_us) == T0
    # 3 s apart across the hour line: the second is misuse, in the next hour's bucket
    assert kiosk_buckets([late_in_hour, early_next]) == {
        ("O1", T0): (1, 1, 0),
        ("O1", T0 + HOUR_US): (0, 0, 1),
    }


def sub(n: int, token: str, t_us: int, answers: tuple[tuple[str, str, int], ...]) -> Submission:
    return Submission(UUID(int=n), "O1", token, t_us, "sipas-5/1", answers)


def test_one_submission_per_token_the_earliest_counts() -> None:
    first = sub(2, "tok", T0 + 5 * S, (("A", "A1", 5),))
    later = sub(1, "tok", T0 + 9 * S, (("A", "A1", 1),))
    other = sub(3, "tok2", T0, (("A", "A1", 3),))
    assert counted_submissions([later, first, other]) == {first.event_id, other.event_id}
    # same instant: the smaller event_id counts
    tie = sub(0, "tok", T0 + 5 * S, (("A", "A1", 4),))
    assert counted_submissions([first, tie]) == {tie.event_id}


def test_qr_buckets_count_criteria_of_counted_submissions_only() -> None:
    a = sub(1, "t1", T0, (("A", "A1", 5), ("A", "A2", 3), ("S", "S1", 4)))
    dup = sub(2, "t1", T0 + 60 * S, (("A", "A1", 1), ("P", "P1", 5)))
    b = sub(3, "t2", T0 + HOUR_US, (("A", "A1", 4),))
    subs, crit = qr_buckets([a, dup, b])
    assert subs == {("O1", T0): (1, 1), ("O1", T0 + HOUR_US): (1, 0)}
    assert crit == {
        ("O1", T0, "sipas-5/1", "A", "A1"): (1, 1),
        ("O1", T0, "sipas-5/1", "A", "A2"): (1, 0),
        ("O1", T0, "sipas-5/1", "S", "S1"): (1, 1),
        ("O1", T0, "sipas-5/1", "P", "P1"): (0, 0),  # answered only by the duplicate
        ("O1", T0 + HOUR_US, "sipas-5/1", "A", "A1"): (1, 1),
    }


def test_camera_sentiment_counts_from_confidence_0_6() -> None:
    def sentiment(n: int, s: str, c: float) -> Observation:
        return Observation(UUID(int=n), "O1", T0, "sentiment", s, c)

    obs = [
        sentiment(1, "positive", 0.6),
        sentiment(2, "positive", 0.5999),
        sentiment(3, "negative", 0.61),
        sentiment(4, "neutral", 1.0),
        Observation(UUID(int=5), "O1", T0, "queue", queue_length=7, wait_seconds=60.0),
        Observation(UUID(int=6), "O1", T0, "queue", queue_length=3),
    ]
    # counted: 1 (pos), 3, 4 → C_n 3, C_pos 1; 2 is under the threshold; queues apart
    assert camera_buckets(obs) == {("O1", T0): (3, 1, 1, 2, 10, 7, 1, 60.0)}


def test_comments_lose_personal_identifiers_but_keep_their_meaning() -> None:
    text = (
        "Cán bộ nhiệt tình. Gọi tôi 0912 345 678 hoặc +84912345678, "
        "email an.nguyen@example.vn, CCCD 001203004567, hộ chiếu B1234567."
    )
    assert scrub(text) == (
        f"Cán bộ nhiệt tình. Gọi tôi {PLACEHOLDER} hoặc {PLACEHOLDER}, "
        f"email {PLACEHOLDER}, CCCD {PLACEHOLDER}, hộ chiếu {PLACEHOLDER}."
    )
    assert scrub("Chờ 45 phút, quầy số 3") == "Chờ 45 phút, quầy số 3"
