"""The benchmark suite's pure parts (bench/core.py, bench/profile.py): the medians,
spreads and ratios of the table, and the reading of py-spy's stacks."""

from __future__ import annotations

from pathlib import Path

from bench.core import Figure, Value, summarise
from bench.profile import parse
from bench.profile import summarise as profile_summary


def _run(_lab: object) -> dict[str, float]:
    return {}


def test_medians_spreads_and_ratios() -> None:
    limit = Figure("1-limit", "limit", (Value("events_per_s", "events/s"),), _run)
    mine = Figure(
        "3-mine",
        "mine",
        (
            Value("events_per_s", "events/s", reference="1-limit.events_per_s"),
            Value("missing", "s"),
        ),
        _run,
    )
    runs = {
        "1-limit": {"events_per_s": [100.0, 80.0, 90.0]},
        "3-mine": {"events_per_s": [9.0, 3.0, 4.5]},
    }
    results = summarise([limit, mine], runs)
    assert [(r.figure, r.value) for r in results] == [
        ("1-limit", "events_per_s"),
        ("3-mine", "events_per_s"),
    ]
    ref, got = results
    assert (ref.median, ref.low, ref.high, ref.ratio) == (90.0, 80.0, 100.0, None)
    assert (got.median, got.low, got.high) == (4.5, 3.0, 9.0)
    assert got.ratio == 4.5 / 90.0


def test_a_difference_of_two_medians_is_a_value_when_both_were_measured() -> None:
    bare = Figure("3b-bare", "bare", (Value("cpu_us", "µs/event"),), _run)
    worker = Figure(
        "3-worker",
        "worker",
        (
            Value("cpu_us", "µs/event", reference="3b-bare.cpu_us"),
            Value(
                "own_cpu_us",
                "µs/event",
                reference="3-worker.cpu_us",
                difference=("3-worker.cpu_us", "3b-bare.cpu_us"),
            ),
        ),
        _run,
    )
    runs = {"3b-bare": {"cpu_us": [70.0, 80.0, 75.0]}, "3-worker": {"cpu_us": [200.0, 210.0]}}
    results = summarise([worker, bare], runs)
    assert [(r.figure, r.value) for r in results] == [
        ("3-worker", "cpu_us"),
        ("3-worker", "own_cpu_us"),
        ("3b-bare", "cpu_us"),
    ]
    own = results[1]
    assert (own.runs, own.median, own.low, own.high) == ([130.0], 130.0, 130.0, 130.0)
    assert own.ratio == 130.0 / 205.0
    alone = summarise([worker], {"3-worker": runs["3-worker"]})
    assert [r.value for r in alone] == ["cpu_us"]


def test_profile_steps_waits_and_the_event_loop(tmp_path: Path) -> None:
    p = 'process 1:"python -m hailong.cli stream"'
    pool = (
        "Thread.run (threading.py:982);_worker (concurrent/futures/thread.py:83);"
        "_WorkItem.run (concurrent/futures/thread.py:58)"
    )
    lines = [
        # the event loop: 10 ticks, 4 of them validating, 6 idle
        f"{p};thread (1): MainThread;run_forever (asyncio/base_events.py:607);"
        "EpollSelector.select (selectors.py:468) 6",
        f"{p};thread (1): MainThread;ingest (streams/app.py:77);"
        "split (streams/ingest.py:90);parse_event (hailong/contract.py:327) 4",
        # a pool thread: 3 ticks in the look-up (2 waiting on ClickHouse), 7 idle
        f"{p};thread (2): asyncio_0;{pool};landed_elsewhere (warehouse/event_index.py:27);"
        "Connection.receive_packet (clickhouse_driver/connection.py:609) 2",
        f"{p};thread (2): asyncio_0;{pool};landed_elsewhere (warehouse/event_index.py:27);"
        "escape (clickhouse_driver/util/escape.py:40) 1",
        f"{p};thread (2): asyncio_0;Thread.run (threading.py:982);"
        "_worker (concurrent/futures/thread.py:81) 7",
    ]
    raw = tmp_path / "profile.txt"
    raw.write_text("\n".join(lines) + "\n")
    text = profile_summary(parse(raw))
    assert "(10 ticks)" in text
    look_up = next(line for line in text.splitlines() if "landed_elsewhere" in line)
    assert look_up.split()[-2:] == ["30.0%", "20.0%"]
    assert "busy  40.0% of wall time" in text
    assert any("validation (split)" in line and "40.0%" in line for line in text.splitlines())
    # CPU: only the samples that were not waiting (4 validating + 1 escaping)
    assert "5 samples" in text and " 80.0%  parse_event" in text


def test_the_validation_figure_parses_the_same_events_both_ways() -> None:
    from bench.core import Lab
    from bench.figures.validation import _events, _reference_parse, validation
    from hailong.contract import MODELS, parse_event
    from hailong.settings import load_settings

    events = _events(300)
    assert len(events) > 200
    # the same work on both sides: equal models from the same bytes
    assert all(_reference_parse(raw, MODELS) == parse_event(raw, topic) for raw, topic in events)
    got = validation(Lab(load_settings(), True, lambda _m: None))
    assert set(got) == {
        "hardened_per_s",
        "reference_per_s",
        "checked_per_s",
        "hardened_us",
        "reference_us",
        "checked_us",
        "signature_us",
    }
    # (the checking side raises if a simulated event breaks a rule: none may)
    assert got["checked_us"] > 0 and got["hardened_us"] > 0
