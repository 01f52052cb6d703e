"""The analytics-camera adapter (``hailong camera``): webhooks in, ``camera_observation/1``
events out, and never anything a camera saw.

Cameras (or their vendor's analytics server) POST what they *derived* to
``/api/v1/observations`` with ``Authorization: Bearer <webhook token>``: each camera has
its own token, made with its registration (``hailong devices register --kind camera``,
kept as a hash in the device registry), bound to its camera id and office. A request
may carry only that camera's observations of that office (else 403, nothing published),
and each camera may send ``camera_rate_per_minute`` requests a minute (else 429). The
``event_id`` of an observation with an ``observation_id`` is derived from the office, the
camera and that id, so no other camera can take a camera's ids. Valid observations are
published to the camera topic keyed by office, and the answer (200) comes after Kafka
confirmed every one of them.

- :mod:`~producers.camera.webhook`: the body (the field allowlist, emotion labels →
  sentiment, observations → events), apart from HTTP;
- :mod:`~producers.camera.app`: the HTTP service (FastAPI, OpenAPI at ``/docs``);
- :func:`run_cli`: ``hailong camera`` (served by :func:`hailong.http.serve`).
"""

from __future__ import annotations

import argparse

from hailong.settings import Settings


def run_cli(settings: Settings, args: argparse.Namespace) -> None:
    """``hailong camera``: serve the adapter with uvicorn until interrupted."""
    from producers.camera.app import create_app
    from producers.service import run_service

    run_service(
        settings,
        args,
        "camera",
        create_app,
        lambda s: (
            f"camera adapter: http://{s.camera_host}:{s.camera_port}"
            f"/api/v1/observations (API docs at /docs); each camera authenticates with its "
            f"own webhook token (hailong devices register --kind camera); publishing to "
            f"{s.topics.camera}"
        ),
    )
