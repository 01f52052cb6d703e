"""What the QR gateway's integration tests share: the gateway's settings for a test,
an office's issuer token, issuing a token and submitting a survey over HTTP, and reading
the QR topic back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hailong.contract import QrSurvey, parse_event
from hailong.settings import Settings
from tests.conftest import read_topic
from tests.serving import Reply, free_port, request

OFFICE = "HN-00004"


def gateway_settings(settings: Settings, tmp_path: Path, **changes: Any) -> Settings:
    """The test's topics, with keys and the token store in tmp_path and a free port; the
    gateway rereads the issuer tokens on every request."""
    return settings.model_copy(
        update={
            "stack_dir": tmp_path / "stack",
            "kafka_home": settings.kafka_dir,
            "gateway_port": free_port(),
            "gateway_registry_refresh_s": 0,
            "gateway_issue_per_minute": 10_000,
            **changes,
        }
    )


_ISSUERS: dict[tuple[str, str], str] = {}


def issuer_token(s: Settings, office: str = OFFICE) -> str:
    """The token of the office's issuer (its queue system), registered on first use."""
    from warehouse.client import Warehouse
    from warehouse.devices import register

    if (s.clickhouse_database, office) not in _ISSUERS:
        with Warehouse(s) as wh:
            new = register(wh, f"queue-{office}", "issuer", office, by="test")
        _ISSUERS[(s.clickhouse_database, office)] = new.webhook_token
    return _ISSUERS[(s.clickhouse_database, office)]


def issue(base: str, s: Settings, office: str = OFFICE, **extra: Any) -> dict[str, Any]:
    reply = request(
        "POST",
        f"{base}/api/v1/tokens",
        json_body={"office_id": office, **extra},
        headers={"Authorization": f"Bearer {issuer_token(s, office)}"},
    )
    assert reply.status == 201, reply.text
    return reply.json()  # type: ignore[no-any-return]


def submit(base: str, token: str, office: str = OFFICE, **changes: Any) -> Reply:
    body = {"token": token, "office_id": office, "answers": {"A1": 4, "S2": 5}, **changes}
    return request("POST", f"{base}/api/v1/surveys", json_body=body)


def qr_events(s: Settings) -> list[QrSurvey]:
    out = []
    for msg in read_topic(s, s.topics.qr):
        event = parse_event(msg.value(), "satisfaction.qr.v1")
        assert isinstance(event, QrSurvey)
        assert msg.key() == event.office_id.encode()
        out.append(event)
    return out
