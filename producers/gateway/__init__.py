"""The QR survey gateway (``hailong gateway``): signed single-use tokens for citizens'
phones, the survey page, and ``qr_survey/1`` events published only once Kafka has them.

- :mod:`hailong.qrtoken`: the signed token format (HMAC-SHA256; the stream worker checks it too);
- :mod:`~producers.gateway.store`: single use, durably (SQLite, WAL);
- :mod:`~producers.gateway.service`: the gateway's state and submission logic;
- :mod:`~producers.gateway.models`: the API's models, the survey form as read;
- :mod:`~producers.gateway.page`: the survey page and the other pages citizens see;
- :mod:`~producers.gateway.answers`: HTML answers (CSP), refusals as pages, QR images;
- :mod:`~producers.gateway.api` (issuing, survey API) and
  :mod:`~producers.gateway.citizens` (the pages): the routes;
- :mod:`~producers.gateway.app`: the HTTP service (FastAPI, OpenAPI at ``/docs``);
- :func:`run_cli`: ``hailong gateway`` (served by :func:`hailong.http.serve`).
"""

from __future__ import annotations

import argparse
import logging
import re

from hailong.settings import Settings

# Survey URLs carry tokens; access logs keep the path but not the token's signature.
_SIGNATURE_RE = re.compile(r"~[A-Za-z0-9_-]{43}(?=[/?\s]|$)")


class RedactTokens(logging.Filter):
    """Blank the signature of any token in a log record's arguments."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(
                _SIGNATURE_RE.sub("~…", a) if isinstance(a, str) else a for a in record.args
            )
        return True


def run_cli(settings: Settings, args: argparse.Namespace) -> None:
    """``hailong gateway``: serve the gateway with uvicorn until interrupted."""
    from producers.gateway.app import create_app
    from producers.service import run_service

    # X-Forwarded-For is believed only from the trusted proxies (default: none, so the
    # rate limit keys on the connecting address and no client can choose its own).
    proxies = args.forwarded_allow_ips
    if proxies is None:
        proxies = settings.gateway_trusted_proxies
    run_service(
        settings,
        args,
        "gateway",
        create_app,
        lambda s: (
            f"gateway: http://{s.gateway_host}:{s.gateway_port} (surveys at "
            f"{s.gateway_url}/s/<token>, API docs at /docs); issuers authenticate with "
            f"their own tokens (hailong devices register --kind issuer); publishing to "
            f"{s.topics.qr}"
        ),
        trusted_proxies=proxies.strip(),
        access_filters=[RedactTokens()],
    )
