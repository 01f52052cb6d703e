"""Issue 13: only events signed by a registered device of their office count. Devices
registered with `hailong devices`, a kiosk that signs with its config (`hailong kiosk
--config`), and an attacker on the real broker who tries the ways the issue lists:
each attempt is held in the quarantine with its reason, and none counts."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hailong import qrtoken
from hailong.kafka import SIMULATOR, Headers, deliver, make_producer
from hailong.settings import Settings, load_settings
from hailong.signing import Signer, new_key
from tests.conftest import running_worker, settings_env, wait_until
from tests.unit.test_contract import CAMERA_SENTIMENT, QR
from warehouse.client import Warehouse
from warehouse.devices import signer_from_config

pytestmark = pytest.mark.integration

A, B = "HN-A", "HN-B"


def hailong(s: Settings, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - our own command line
        [sys.executable, "-m", "hailong.cli", *args],
        env=settings_env(s),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.fixture
def signed(settings: Settings, tmp_path: Path) -> Iterator[Settings]:
    """The test's settings with signatures required, and a worker running."""
    s = load_settings(
        **{
            **{n: getattr(settings, n) for n in settings.model_fields_set},
            "require_signatures": True,
        }
    )
    with running_worker(s, tmp_path / "worker.log") as proc:
        yield s
        assert proc.poll() is None, "the worker must survive"


def press(
    device: str, office: str, event_id: uuid.UUID | None = None, at: datetime | None = None
) -> bytes:
    return json.dumps(
        {
            "schema": "kiosk_rating/1",
            "event_id": str(event_id or uuid.uuid4()),
            "office_id": office,
            "device_id": device,
            "occurred_at": (at or datetime.now(UTC) - timedelta(hours=1)).isoformat(),
            "scale": 5,
            "value": 5,
        }
    ).encode()


def test_only_registered_devices_of_the_office_count(signed: Settings, tmp_path: Path) -> None:
    s = signed
    devices = tmp_path / "devices"
    since = (datetime.now(UTC) - timedelta(days=30)).isoformat()
    for device, kind, office in [
        ("K-A", "kiosk", A),
        ("K-B", "kiosk", B),
        ("K-R", "kiosk", A),
        ("C-A", "camera", A),
        ("C-B", "camera", B),
        ("GW", "gateway", ""),
    ]:
        out = hailong(
            s,
            "devices",
            "register",
            "--device",
            device,
            "--kind",
            kind,
            *(["--office", office] if office else []),
            "--from",
            since,
            "--out",
            str(devices / f"{device}.json"),
            "--by",
            "test",
        )
        assert out.returncode == 0, out.stderr
        assert (devices / f"{device}.json").stat().st_mode & 0o077 == 0  # owner only
    revoked = hailong(s, "devices", "revoke", "--device", "K-R", "--why", "stolen")
    assert revoked.returncode == 0 and "K-R: key 1 revoked" in revoked.stdout
    listing = hailong(s, "devices", "list")
    assert "K-A" in listing.stdout and "revoked" in listing.stdout
    assert "private" not in listing.stdout
    with Warehouse(s) as wh:  # only public keys in the warehouse
        stored = " ".join(str(r) for r in wh.execute("SELECT * FROM device_changes"))
        private = json.loads((devices / "K-A.json").read_text())["private_key"]
        assert private not in stored and base64.b64decode(private).hex() not in stored

    k_a = signer_from_config(devices / "K-A.json")
    c_a = signer_from_config(devices / "C-A.json")
    k_r = signer_from_config(devices / "K-R.json")
    legit = press("K-A", A)
    attacks: dict[str, tuple[str, bytes, bytes, Headers, str]] = {}

    def attack(
        name: str, topic: str, key: bytes, value: bytes, headers: Headers, reason: str
    ) -> None:
        attacks[name] = (topic, key, value, headers, reason)

    fake = press("FAKE-1", A)
    attack("unregistered device, unsigned", s.topics.kiosk, A.encode(), fake, [], "unsigned")
    own_private, _ = new_key()
    fake2 = press("FAKE-2", A)
    attack(
        "unregistered device, its own key",
        s.topics.kiosk,
        A.encode(),
        fake2,
        [*Signer("FAKE-2", 1, own_private).headers(fake2)],
        "'FAKE-2' key 1 is not registered",
    )
    stolen_id = press("K-A", A)
    attack(
        "a registered id without its key",
        s.topics.kiosk,
        A.encode(),
        stolen_id,
        [*Signer("K-A", 1, own_private).headers(stolen_id)],
        "does not match",
    )
    for_b = press("K-A", B)
    attack(
        "office A's device for office B",
        s.topics.kiosk,
        B.encode(),
        for_b,
        [*k_a.headers(for_b)],
        "bound to office 'HN-A', not 'HN-B'",
    )
    replay = legit.replace(json.loads(legit)["event_id"].encode(), str(uuid.uuid4()).encode())
    attack(
        "a signed event replayed under a new event_id",
        s.topics.kiosk,
        A.encode(),
        replay,
        [*k_a.headers(legit)],
        "does not match",
    )
    by_revoked = press("K-R", A, at=datetime.now(UTC) - timedelta(days=10))  # back-dated
    attack(
        "a revoked device",
        s.topics.kiosk,
        A.encode(),
        by_revoked,
        [*k_r.headers(by_revoked)],
        "was revoked at",
    )
    survey = json.dumps({**QR, "office_id": A}).encode()
    attack("a QR survey straight to Kafka", s.topics.qr, A.encode(), survey, [], "unsigned")
    survey2 = json.dumps({**QR, "office_id": A, "event_id": str(uuid.uuid4())}).encode()
    attack(
        "a QR survey signed by a kiosk",
        s.topics.qr,
        A.encode(),
        survey2,
        [*k_a.headers(survey2)],
        "is a kiosk, which does not sign qr events",
    )
    gw = signer_from_config(devices / "GW.json")
    gateway_no_token = json.dumps({**QR, "office_id": A, "event_id": str(uuid.uuid4())}).encode()
    attack(
        "a QR survey signed by a registered gateway, without a token",
        s.topics.qr,
        A.encode(),
        gateway_no_token,
        [*gw.headers(gateway_no_token)],
        "no QR token",
    )
    made_up = json.dumps({**QR, "office_id": A, "event_id": str(uuid.uuid4())}).encode()
    forged = qrtoken.sign(
        "not-the-gateway-secret",
        A,
        QR["token_id"],
        datetime.now(UTC),
        datetime.now(UTC) + timedelta(hours=1),
    )
    attack(
        "a QR survey with a made-up token",
        s.topics.qr,
        A.encode(),
        made_up,
        [(qrtoken.QR_TOKEN_HEADER, forged.text.encode()), *gw.headers(made_up)],
        "the token's signature does not match",
    )
    other_camera = json.dumps(
        {**CAMERA_SENTIMENT, "office_id": B, "camera_id": "C-B", "event_id": str(uuid.uuid4())}
    ).encode()
    attack(
        "a camera post with another camera's key",
        s.topics.camera,
        B.encode(),
        other_camera,
        [*c_a.headers(other_camera)],
        "signed an event of camera_id 'C-B'",
    )

    producer = make_producer(s, SIMULATOR)
    for topic, key, value, headers, _ in attacks.values():
        deliver(producer, topic, [(key, value, headers)])
    deliver(producer, s.topics.kiosk, [(A.encode(), legit, [*k_a.headers(legit)])])
    # a survey as the QR gateway sends it: its token (the gateway's secret), its signature
    survey_at = datetime.now(UTC) - timedelta(minutes=5)
    real = json.dumps(
        {**QR, "office_id": A, "event_id": str(uuid.uuid4()), "submitted_at": survey_at.isoformat()}
    ).encode()
    token = qrtoken.sign(
        s.key("gateway_secret"),
        A,
        QR["token_id"],
        survey_at - timedelta(hours=1),
        survey_at + timedelta(hours=1),
    )
    deliver(
        producer,
        s.topics.qr,
        [(A.encode(), real, [(qrtoken.QR_TOKEN_HEADER, token.text.encode()), *gw.headers(real)])],
    )
    # and a kiosk that signs with the config `hailong devices register` wrote
    kiosk = hailong(
        s,
        "kiosk",
        "--config",
        str(devices / "K-B.json"),
        "--spool",
        str(tmp_path / "kb.sqlite"),
        stdin="4\n",
    )
    assert kiosk.returncode == 0, kiosk.stderr[-2000:]
    assert "done: 1 ratings confirmed by Kafka" in kiosk.stdout

    with Warehouse(s) as wh:

        def state() -> tuple[int, int]:
            counted = sum(
                int(wh.execute(f"SELECT count() FROM {t} FINAL")[0][0])
                for t in ("kiosk_ratings_raw", "qr_surveys_raw", "camera_observations_raw")
            )
            return counted, int(wh.execute("SELECT count() FROM quarantine FINAL")[0][0])

        wait_until(
            lambda: state() == (3, len(attacks)),
            60,
            f"3 counted (K-A's and K-B's presses, the gateway's survey) and {len(attacks)} held",
        )
        counted = wh.execute(
            "SELECT office_id, device_id FROM kiosk_ratings_raw FINAL ORDER BY office_id"
        )
        assert counted == [(A, "K-A"), (B, "K-B")]
        held = dict(wh.execute("SELECT raw, reason FROM quarantine FINAL"))
    for name, (_, _, value, _, reason) in attacks.items():
        got = held[value.decode()]
        assert reason in got, (name, got)


def test_a_survey_through_the_qr_gateway_counts_with_signatures_required(
    settings: Settings, tmp_path: Path
) -> None:
    """The real path: an office's issuer asks the gateway for a token, a citizen submits,
    the gateway publishes the survey with its token and its signature, and a worker that
    requires both counts it (and holds nothing)."""
    from producers.gateway.app import create_app
    from tests.serving import free_port, request, serve

    s = load_settings(
        **{
            **{n: getattr(settings, n) for n in settings.model_fields_set},
            "require_signatures": True,
            "stack_dir": tmp_path / "stack",
            "kafka_home": settings.kafka_dir,
            "gateway_port": free_port(),
            "gateway_registry_refresh_s": 0,
        }
    )
    for device, kind, office in (("qr-gateway", "gateway", ""), ("queue-A", "issuer", A)):
        out = hailong(
            s,
            "devices",
            "register",
            "--device",
            device,
            "--kind",
            kind,
            *(["--office", office] if office else []),
            "--out",
            str(s.stack_dir / "devices" / f"{device}.json"),
        )
        assert out.returncode == 0, out.stderr
    issuer = json.loads((s.stack_dir / "devices" / "queue-A.json").read_text())["issuer_token"]
    with (
        running_worker(s, tmp_path / "worker.log"),
        serve(create_app(s), s.gateway_port) as base,
        Warehouse(s) as wh,
    ):
        issued = request(
            "POST",
            f"{base}/api/v1/tokens",
            json_body={"office_id": A},
            headers={"Authorization": f"Bearer {issuer}"},
        )
        assert issued.status == 201, issued.text
        submitted = request(
            "POST",
            f"{base}/api/v1/surveys",
            json_body={"token": issued.json()["token"], "office_id": A, "answers": {"A1": 5}},
        )
        assert submitted.status == 201, submitted.text
        wait_until(
            lambda: wh.execute("SELECT count() FROM qr_surveys_raw FINAL")[0][0] == 1,
            60,
            "the gateway's survey counted",
        )
        assert wh.execute("SELECT count() FROM quarantine FINAL") == [(0,)]
