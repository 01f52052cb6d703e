"""The camera adapter as a process (``hailong camera``, logging at DEBUG) on the real
Kafka broker: valid webhooks become contract events in Kafka; images, face crops,
embeddings and unknown fields fail the whole request with 422 naming the field, and a
marker placed in their values appears nowhere: not in Kafka, not in the response, not
in the process's output."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from hailong.contract import CameraObservation, parse_event
from hailong.settings import Settings
from infra.stack import default_signals
from tests.conftest import read_topic
from tests.serving import Reply, free_port, request
from warehouse.client import Warehouse
from warehouse.devices import register, revoke

pytestmark = pytest.mark.integration

OFFICE = "HN-00004"
EMOTION: dict[str, Any] = {
    "camera_id": "cam-3",
    "office_id": OFFICE,
    "timestamp": "2026-11-24T09:15:02+07:00",
    "event_type": "emotion",
    "emotion": "angry",
    "score": 0.87,
    "track_id": "t-1234",
    "observation_id": "obs-1",
}
QUEUE: dict[str, Any] = {
    "camera_id": "cam-3",
    "office_id": OFFICE,
    "timestamp": "2026-11-24T02:15:00Z",
    "event_type": "queue",
    "people_waiting": 7,
    "estimated_wait_s": 420.5,
}


@dataclass
class Adapter:
    base: str
    key: str  # cam-3's webhook token
    log: Path
    proc: subprocess.Popen[bytes]
    settings: Settings
    tokens: dict[str, str]  # every registered camera's token

    def post(self, body: Any, key: str | None = None) -> Reply:
        return request(
            "POST",
            f"{self.base}/api/v1/observations",
            json_body=body,
            headers={"Authorization": f"Bearer {key or self.key}"},
        )

    def output(self) -> str:
        """Everything the process printed (call after it stopped)."""
        return self.log.read_text(errors="replace")


@pytest.fixture
def adapter(settings: Settings, tmp_path: Path) -> Iterator[Adapter]:
    s = settings.model_copy(
        update={
            "stack_dir": tmp_path / "stack",
            "kafka_home": settings.kafka_dir,
            "camera_rate_per_minute": 30,
            "camera_registry_refresh_s": 0,
        }
    )
    tokens = {}
    with Warehouse(s) as wh:  # cam-3 and cam-1 at OFFICE, cam-9 elsewhere
        for camera, office in (("cam-3", OFFICE), ("cam-1", OFFICE), ("cam-9", "HN-00008")):
            tokens[camera] = register(wh, camera, "camera", office, by="test").webhook_token
    port = free_port()
    env = {**s.child_environment(), "HAILONG_CAMERA_PORT": str(port)}
    log = tmp_path / "camera.log"
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "hailong.cli", "camera", "--log-level", "debug"],
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            preexec_fn=default_signals,
        )
    adapter = Adapter(f"http://127.0.0.1:{port}", tokens["cam-3"], log, proc, s, tokens)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if request("GET", f"{adapter.base}/healthz", timeout=2).status == 200:
                    break
            except OSError:
                pass
            assert proc.poll() is None, adapter.output()
            assert time.monotonic() < deadline, "the camera adapter did not start"
            time.sleep(0.2)
        yield adapter
    finally:
        stop(adapter)


def stop(adapter: Adapter) -> None:
    if adapter.proc.poll() is None:
        adapter.proc.terminate()
        try:
            adapter.proc.wait(30)
        except subprocess.TimeoutExpired:
            adapter.proc.kill()
            adapter.proc.wait()


def camera_events(s: Settings) -> list[CameraObservation]:
    out = []
    for msg in read_topic(s, s.topics.camera):
        event = parse_event(msg.value(), "satisfaction.camera.v1")
        assert isinstance(event, CameraObservation) and msg.key() == event.office_id.encode()
        out.append(event)
    return out


def test_valid_webhooks_become_contract_events(adapter: Adapter) -> None:
    one = adapter.post(EMOTION)
    assert one.status == 200, one.text
    several = adapter.post(
        [
            QUEUE,
            {
                **EMOTION,
                "observation_id": "obs-2",
                "emotion": "Happy",
                "score": 0.5,
                "track_id": "t-9",
            },
        ]
    )
    assert several.status == 200 and several.json()["accepted"] == 2
    assert adapter.post(EMOTION, key="wrong").status == 401
    ids = one.json()["event_ids"] + several.json()["event_ids"]
    events = {str(e.event_id): e for e in camera_events(adapter.settings)}
    assert list(events) == ids  # one office: one partition, in order
    angry, queue, happy = (events[i] for i in ids)
    assert (angry.kind, angry.sentiment, angry.confidence, angry.track_id, angry.camera_id) == (
        "sentiment",
        "negative",
        0.87,
        "t-1234",
        "cam-3",
    )
    assert angry.observed_at.isoformat() == "2026-11-24T02:15:02+00:00"
    assert (queue.kind, queue.queue_length, queue.wait_seconds, queue.sentiment) == (
        "queue",
        7,
        420.5,
        None,
    )
    assert (happy.sentiment, happy.confidence) == ("positive", 0.5)
    assert {e.office_id for e in events.values()} == {OFFICE}


def test_forbidden_fields_are_refused_and_never_published_or_logged(adapter: Adapter) -> None:
    marker = f"LEAK-{uuid.uuid4().hex}"
    payloads: list[tuple[Any, list[str]]] = [
        ({**EMOTION, "image": f"data:image/jpeg;base64,/9j/{marker}"}, ["image"]),
        ({**EMOTION, "face_crop": marker}, ["face_crop"]),
        ({**EMOTION, "embedding": [0.12, -0.4, marker]}, ["embedding"]),
        ({**QUEUE, "vendor_debug": {"note": marker}}, ["vendor_debug"]),
        (
            [QUEUE, {**EMOTION, "snapshot": marker, "age_estimate": 34}],
            ["age_estimate", "snapshot"],
        ),
    ]
    for body, fields in payloads:
        reply = adapter.post(body)
        assert reply.status == 422, reply.text
        problem = reply.json()
        assert problem["type"].endswith("field-not-allowed")
        assert problem["fields"] == fields
        assert marker not in reply.text
    # values that are merely invalid are not echoed either
    for change in (
        {"emotion": marker},
        {"track_id": f"{marker} x"},
        {"timestamp": marker},
        {"camera_id": {"face": marker}},
    ):
        reply = adapter.post({**EMOTION, **change})
        assert reply.status == 422 and marker not in reply.text, reply.text
    bad_json = request(
        "POST",
        f"{adapter.base}/api/v1/observations",
        b'{"image": "' + marker.encode() + b'",}',
        headers={"Authorization": f"Bearer {adapter.key}", "Content-Type": "application/json"},
    )
    assert bad_json.status == 400 and marker not in bad_json.text
    assert camera_events(adapter.settings) == []
    stop(adapter)
    output = adapter.output()
    assert "webhook refused (field-not-allowed): fields face_crop" in output  # it did log
    assert "POST /api/v1/observations" in output and " 422" in output
    assert marker not in output


def test_openapi_documents_the_webhook_format(adapter: Adapter) -> None:
    doc = request("GET", f"{adapter.base}/openapi.json").json()
    op = doc["paths"]["/api/v1/observations"]["post"]
    assert op["summary"] and "allowlist" in op["description"]
    one, many = op["requestBody"]["content"]["application/json"]["schema"]["oneOf"]
    assert set(one["properties"]) == {
        "camera_id",
        "office_id",
        "timestamp",
        "event_type",
        "observation_id",
        "emotion",
        "score",
        "track_id",
        "people_waiting",
        "estimated_wait_s",
    }
    assert one["additionalProperties"] is False and many["items"] == one
    assert {"200", "401", "413", "422", "503"} <= set(op["responses"])
    assert "face_crop" in doc["info"]["description"]
    assert request("GET", f"{adapter.base}/docs").status == 200


def test_a_camera_token_posts_only_its_own_observations(adapter: Adapter) -> None:
    """One token per camera, bound to its camera id and office: no other camera's (or
    office's) observations, nothing for an unknown or revoked token, a rate per camera."""
    other_camera = adapter.post(EMOTION, key=adapter.tokens["cam-1"])
    assert other_camera.status == 403 and other_camera.json()["type"].endswith("not-this-camera")
    other_office = adapter.post({**EMOTION, "camera_id": "cam-9"}, key=adapter.tokens["cam-9"])
    assert other_office.status == 403  # cam-9 is bound to HN-00008
    mixed = adapter.post([EMOTION, {**QUEUE, "camera_id": "cam-1"}])
    assert mixed.status == 403 and mixed.json()["errors"] == [
        {"field": "[1]", "message": "another camera or office"}
    ]
    assert adapter.post(EMOTION, key="not-a-token").status == 401
    own = adapter.post(
        {**EMOTION, "camera_id": "cam-1", "observation_id": "obs-1"}, key=adapter.tokens["cam-1"]
    )
    assert own.status == 200
    # the same observation_id from another camera is another event (namespaced)
    assert adapter.post(EMOTION).json()["event_ids"] != own.json()["event_ids"]
    assert {e.camera_id for e in camera_events(adapter.settings)} == {"cam-1", "cam-3"}
    with Warehouse(adapter.settings) as wh:
        revoke(wh, "cam-1", by="test", why="stolen")
    revoked = adapter.post({**EMOTION, "camera_id": "cam-1"}, key=adapter.tokens["cam-1"])
    assert revoked.status == 401  # (the fixture's adapter rereads the registry each time)
    statuses = []
    for _ in range(30):
        statuses.append(adapter.post(EMOTION).status)
    assert statuses.count(429) >= 1 and set(statuses) <= {200, 429}, statuses
