"""The QR gateway on the real Kafka broker, its edges: issuing needs an issuer's token
(of its office, within its rate) and serves QR images; body-size and rate limits;
X-Forwarded-For is not believed by default; Kafka down → 503 and the token released;
the OpenAPI document."""

from __future__ import annotations

import base64
import json
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from hailong import qrtoken as tokens
from hailong.clock import SYSTEM
from hailong.settings import Settings
from producers.gateway.app import create_app
from tests.integration.gateway_site import (
    OFFICE,
    gateway_settings,
    issue,
    issuer_token,
    qr_events,
    submit,
)
from tests.serving import free_port, request, serve

pytestmark = pytest.mark.integration


def test_issuing_needs_the_key_and_serves_qr_images(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path)
    with serve(create_app(s), s.gateway_port) as base:
        url = f"{base}/api/v1/tokens"
        for headers in (
            {},
            {"Authorization": "Bearer wrong"},
            {"Authorization": f"Basic {issuer_token(s)}"},
        ):
            reply = request("POST", url, json_body={"office_id": OFFICE}, headers=headers)
            assert reply.status == 401 and reply.headers["www-authenticate"] == "Bearer"
        auth = {"Authorization": f"Bearer {issuer_token(s)}"}
        for body in (
            {"office_id": "HN 4"},
            {"office_id": OFFICE, "ttl_hours": 0},
            {"office_id": OFFICE, "ttl_hours": 10_000},
            {"office": OFFICE},
        ):
            assert request("POST", url, json_body=body, headers=auth).status == 422
        issued = issue(base, s, ttl_hours=2)
        token = tokens.verify(s.key("gateway_secret"), issued["token"], SYSTEM.now())
        assert token.token_id == issued["token_id"] and token.office_id == OFFICE
        issued_at = datetime.fromisoformat(issued["issued_at"])
        expires_at = datetime.fromisoformat(issued["expires_at"])
        assert expires_at - issued_at == timedelta(hours=2)
        assert issued["qr_svg"].startswith("<svg")
        png = base64.b64decode(issued["qr_png"].removeprefix("data:image/png;base64,"))
        assert png.startswith(b"\x89PNG")
        svg = request("GET", issued["qr_svg_url"])
        assert svg.status == 200 and svg.headers["content-type"].startswith("image/svg+xml")
        assert svg.text == issued["qr_svg"]
        got_png = request("GET", issued["qr_png_url"])
        assert got_png.headers["content-type"] == "image/png" and got_png.body == png
        forged = issued["token"][:-1] + ("A" if issued["token"][-1] != "A" else "B")
        assert request("GET", f"{base}/api/v1/tokens/{forged}/qr.png").status == 403
        default = issue(base, s)
        lifetime = datetime.fromisoformat(default["expires_at"]) - datetime.fromisoformat(
            default["issued_at"]
        )
        assert lifetime == timedelta(hours=s.gateway_token_ttl_h) == timedelta(hours=72)


def test_body_size_limit(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path, gateway_max_body_bytes=2048)
    with serve(create_app(s), s.gateway_port) as base:
        token = issue(base, s)["token"]
        padded = (
            json.dumps({"token": token, "office_id": OFFICE, "answers": {"A1": 5}}).encode()
            + b" " * 4096
        )
        declared = request(
            "POST", f"{base}/api/v1/surveys", padded, headers={"Content-Type": "application/json"}
        )
        assert declared.status == 413 and declared.json()["type"].endswith("body-too-large")
        chunks = [padded[i : i + 500] for i in range(0, len(padded), 500)]
        streamed = request(
            "POST",
            f"{base}/api/v1/surveys",
            iter(chunks),
            headers={"Content-Type": "application/json"},
        )
        assert streamed.status == 413
        form = request(
            "POST",
            f"{base}/s/{token}",
            iter([b"office_id=HN-00004&A1=4&comment=", b"x" * 3000]),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status == 413 and "Nội dung gửi quá lớn" in form.text
        # nothing was used up: the token still works, once
        assert request("GET", f"{base}/s/{token}").status == 200
        small = request(
            "POST",
            f"{base}/api/v1/surveys",
            iter([padded[:1000].rstrip()]),
            headers={"Content-Type": "application/json"},
        )
        assert small.status == 201, small.text
    assert len(qr_events(s)) == 1


def test_rate_limit_per_address(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path, gateway_rate_per_minute=5)
    with serve(create_app(s), s.gateway_port) as base:
        token = issue(base, s)["token"]
        statuses = [request("GET", f"{base}/s/{token}").status for _ in range(5)]
        assert statuses == [200] * 5
        limited = request("GET", f"{base}/s/{token}?lang=en")
        assert limited.status == 429 and int(limited.headers["retry-after"]) >= 1
        assert "Too many requests" in limited.text
        api = submit(base, token)
        assert api.status == 429 and api.json()["type"].endswith("rate-limited")
        assert int(api.headers["retry-after"]) >= 1
        # issuing (authenticated) and health are not citizen traffic
        assert issue(base, s)["token"]
        assert request("GET", f"{base}/healthz").status == 200
    assert qr_events(s) == []


def test_kafka_down_gives_503_and_releases_the_token(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path)
    dead = s.model_copy(update={"kafka_port": free_port()})  # no broker there
    with serve(create_app(dead, delivery_timeout_s=3), dead.gateway_port) as base:
        token = issue(base, dead)["token"]
        down = submit(base, token)
        assert down.status == 503 and down.headers["retry-after"]
        assert down.json()["type"].endswith("kafka-unavailable")
        form = request(
            "POST",
            f"{base}/s/{token}",
            b"office_id=HN-00004&A1=4&comment=ok",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert form.status == 503 and "vẫn còn trên trang" in form.text
        assert 'name="A1" value="4" checked' in form.text
    # Kafka is back (same keys and token store): the same token goes through, once
    with serve(create_app(s), s.gateway_port) as base:
        assert submit(base, token, answers={"R4": 1}).status == 201
        assert submit(base, token).status == 409
    (event,) = qr_events(s)
    assert event.answers == {"R4": 1}


def test_openapi_documents_every_endpoint(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path)
    with serve(create_app(s), s.gateway_port) as base:
        doc = request("GET", f"{base}/openapi.json").json()
        assert request("GET", f"{base}/docs").status == 200
        assert request("GET", f"{base}/healthz").json()["status"] == "ok"
    paths = doc["paths"]
    expected = {
        ("/api/v1/tokens", "post"),
        ("/api/v1/tokens/{token}/qr.svg", "get"),
        ("/api/v1/tokens/{token}/qr.png", "get"),
        ("/s/{token}", "get"),
        ("/s/{token}", "post"),
        ("/s/{token}/thanks", "get"),
        ("/api/v1/surveys", "post"),
        ("/healthz", "get"),
    }
    assert {(p, m) for p, ops in paths.items() for m in ops} == expected
    for p, m in expected:
        op = paths[p][m]
        assert op["summary"] and op["description"], (p, m)
    assert {"401", "422"} <= set(paths["/api/v1/tokens"]["post"]["responses"])
    assert {"403", "409", "410", "413", "429", "503"} <= set(
        paths["/api/v1/surveys"]["post"]["responses"]
    )
    assert "issuer token" in doc["components"]["securitySchemes"]


def test_x_forwarded_for_is_not_believed_by_default(settings: Settings, tmp_path: Path) -> None:
    """`hailong gateway` as users run it: no trusted proxy by default, so a client that
    sends a new X-Forwarded-For with each request is still one address to the rate limit."""
    import subprocess
    import sys

    from tests.conftest import wait_until

    s = gateway_settings(settings, tmp_path, gateway_rate_per_minute=5)
    log = (tmp_path / "gateway.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "hailong.cli", "gateway"],
        env=s.child_environment(),
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{s.gateway_port}"
    try:

        def up() -> bool:
            try:
                return request("GET", f"{base}/healthz", timeout=2).status == 200
            except OSError:
                return False

        wait_until(up, 30, "the gateway to answer")
        token = issue(base, s)["token"]
        statuses = [
            request(
                "GET", f"{base}/s/{token}", headers={"X-Forwarded-For": f"203.0.113.{i}"}
            ).status
            for i in range(7)
        ]
        assert statuses[:5] == [200] * 5 and statuses[5:] == [429, 429], statuses
    finally:
        proc.terminate()
        proc.wait(30)
        log.close()


def test_an_issuer_issues_only_for_its_office_within_its_rate(
    settings: Settings, tmp_path: Path
) -> None:
    """Issuer tokens per office (issue 13): office B's queue system cannot ask for office
    A's tokens, nor stuff ballots faster than its rate; a revoked issuer is refused."""
    from warehouse.client import Warehouse
    from warehouse.devices import revoke

    s = gateway_settings(settings, tmp_path, gateway_issue_per_minute=3)
    with serve(create_app(s), s.gateway_port) as base:
        url = f"{base}/api/v1/tokens"
        b_for_a = request(
            "POST",
            url,
            json_body={"office_id": OFFICE},
            headers={"Authorization": f"Bearer {issuer_token(s, 'HN-00008')}"},
        )
        assert b_for_a.status == 403 and b_for_a.json()["type"].endswith("not-your-office")
        auth = {"Authorization": f"Bearer {issuer_token(s)}"}
        statuses = [
            request("POST", url, json_body={"office_id": OFFICE}, headers=auth).status
            for _ in range(5)
        ]
        assert statuses == [201, 201, 201, 429, 429], statuses
        with Warehouse(s) as wh:
            revoke(wh, f"queue-{OFFICE}", by="test", why="leaked")
        after = request("POST", url, json_body={"office_id": OFFICE}, headers=auth)
        assert after.status == 401
