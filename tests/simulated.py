"""Counting a simulator run back from what was published, by rules independent of how
the simulator made it (shared by the unit test and the Kafka test)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime

from hailong.contract import Event, KioskRating, QrSurvey
from hailong.counting import Press, misuse


@dataclass
class Observed:
    invalid: int = 0
    duplicates: int = 0  # copies of an event_id already seen, byte-identical
    reused_tokens: int = 0  # QR submissions of an already used token_id
    misuse: int = 0  # presses < 4 s after their device's previous press
    late: int = 0  # presses older than a press of the same device published before


def observe(published: list[tuple[bytes, Event | None]]) -> Observed:
    """``published``: (raw value, parsed event or None if it failed the contract) in
    publication order (per device: Kafka's order within the office's partition)."""
    seen: dict[str, bytes] = {}
    tokens: set[str] = set()
    newest: dict[str, datetime] = {}
    presses: list[Press] = []
    out = Observed()
    for raw, event in published:
        if event is None:
            out.invalid += 1
            continue
        eid = str(event.event_id)
        if eid in seen:
            assert seen[eid] == raw, f"{eid} resent with other bytes"
            out.duplicates += 1
            continue
        seen[eid] = raw
        if isinstance(event, QrSurvey):
            out.reused_tokens += event.token_id in tokens
            tokens.add(event.token_id)
        if isinstance(event, KioskRating):
            at = event.occurred_at
            if event.device_id in newest and at < newest[event.device_id]:
                out.late += 1
            newest[event.device_id] = max(at, newest.get(event.device_id, at))
            t_us = int(at.timestamp()) * 1_000_000 + at.microsecond
            presses.append(
                Press(
                    event.event_id, event.office_id, event.device_id, t_us, event.scale, event.value
                )
            )
    out.misuse = len(misuse(presses))
    counts = Counter(p.event_id for p in presses)
    assert max(counts.values(), default=1) == 1
    return out
