"""Alert messages, webhook signatures, routes and digests (streams/alert_notify.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from streams.alert_life import Policy, Track, acknowledge, step
from streams.alert_notify import (
    AlertMessage,
    Route,
    RoutingTable,
    digest,
    message,
    signature,
    verify,
)
from streams.alert_rules import Finding

NOW = 480_009
FINDING = Finding("credible_drop", "HN-1", {"window_share": 0.55, "baseline_lo": 0.8})


def raised() -> tuple[Track, AlertMessage]:
    track, changes = step(Track(), FINDING, NOW, Policy(), "credible_drop", "HN-1")
    return track, message(changes[0], "U-1", NOW)


def test_a_message_carries_the_alert_and_its_numbers() -> None:
    _, m = raised()
    body = json.loads(m.to_json())
    assert body["schema"] == "alert/1" and body["kind"] == "raised"
    assert body["office_id"] == "HN-1" and body["unit_code"] == "U-1"
    assert body["numbers"] == {"window_share": 0.55, "baseline_lo": 0.8}
    assert body["hour"].startswith("2024-10-04T09:00:00")  # hour 480009 since the epoch
    assert AlertMessage.model_validate_json(m.to_json()) == m  # round trip
    with pytest.raises(ValidationError):
        AlertMessage.model_validate({**body, "kind": "deleted"})
    with pytest.raises(ValidationError):
        AlertMessage.model_validate({**body, "extra": 1})
    track, _ = raised()
    _, ack = acknowledge(track, "chair@HN-1", "more staff at noon", NOW + 1)
    m2 = message(ack, "U-1", NOW + 1)
    assert (m2.kind, m2.state, m2.by, m2.comment) == (
        "acknowledged",
        "acknowledged",
        "chair@HN-1",
        "more staff at noon",
    )


@given(st.binary(max_size=2000), st.text(min_size=1, max_size=40), st.integers(0, 2**33))
def test_a_signed_webhook_verifies_and_any_change_breaks_it(
    body: bytes, secret: str, at: int
) -> None:
    header = signature(body, secret, at)
    assert verify(body, header, secret, at + 10)
    assert not verify(body + b" ", header, secret, at)
    assert not verify(body, header, secret + "x", at)
    assert not verify(body, header, secret, at + 301)  # stale: a replay
    assert not verify(body, header.replace("v1=", "v2="), secret, at)
    assert not verify(body, "garbage", secret, at)


def test_routes_by_office_unit_city_and_rule() -> None:
    table = RoutingTable.model_validate(
        {
            "routes": [
                {"match": "*", "email": ["city@hanoi.example"], "mode": "digest"},
                {"match": "U-1", "email": ["chair@u1.example"]},
                {
                    "match": "HN-1",
                    "webhook": "http://127.0.0.1:9/hook",
                    "secret": "s" * 16,
                    "rules": ["credible_drop", "silent_device"],
                },
            ]
        }
    )
    got = table.routes_for("HN-1", "U-1", "credible_drop")
    assert [r.match for r in got] == ["*", "U-1", "HN-1"]
    assert [r.match for r in table.routes_for("HN-1", "U-1", "volume_drop")] == ["*", "U-1"]
    assert [r.match for r in table.routes_for("HN-9", "U-2", "volume_drop")] == ["*"]
    # A device's rule is routed by its rule's name.
    assert [r.match for r in table.routes_for("HN-1", "U-1", "silent_device/K-1")] == [
        "*",
        "U-1",
        "HN-1",
    ]
    for bad in (
        {"match": "*", "email": ["a@b.example"], "mode": "weekly"},
        {"match": "*"},  # sends nowhere
        {"match": "*", "webhook": "http://127.0.0.1:9/hook"},  # nothing to sign with
        {"match": "*", "webhook": "http://127.0.0.1:9/hook", "secret": "short"},
        {"match": "*", "webhook": "file:///etc/passwd", "secret": "s" * 16},
    ):
        with pytest.raises(ValidationError):
            Route.model_validate(bad)


def test_a_digest_lists_the_days_changes() -> None:
    _, m = raised()
    subject, text = digest([m], "2024-10-04")
    assert subject == "Hailong alerts 2024-10-04: 1 raised, 1 changes"
    assert "HN-1" in text and "credible_drop" in text and "window_share 0.55" in text


def test_the_published_json_schema_is_the_models() -> None:
    """streams/alert-1.schema.json (for the topic's consumers) says what the code sends;
    regenerate it with AlertMessage.model_json_schema when the model changes."""
    import json
    from pathlib import Path

    import jsonschema

    path = Path(__file__).parents[2] / "streams" / "alert-1.schema.json"
    published = json.loads(path.read_text())
    generated = AlertMessage.model_json_schema(by_alias=True, mode="serialization")
    assert {k: v for k, v in published.items() if k not in ("$id", "title")} == {
        k: v for k, v in generated.items() if k != "title"
    }
    _, m = raised()
    jsonschema.validate(json.loads(m.to_json()), published)
