"""The QR survey gateway (``hailong gateway``): signed single-use tokens for citizens'
phones, the survey page, and ``qr_survey/1`` events published only once Kafka has them.

- :mod:`hailong.qrtoken`: the signed token format (HMAC-SHA256; the stream worker checks it too);
- :mod:`~producers.gateway.store`: single use, durably (SQLite, WAL);
- :mod:`~producers.gateway.page`: the survey page and the other pages citizens see;
- :mod:`~producers.gateway.app`: the HTTP service (FastAPI, OpenAPI at ``/docs``).
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
    import uvicorn

    from producers.gateway.app import create_app

    updates = {
        k: v for k, v in (("gateway_host", args.host), ("gateway_port", args.port)) if v is not None
    }
    if updates:
        settings = settings.model_copy(update=updates)
    app = create_app(settings)
    print(
        f"gateway: http://{settings.gateway_host}:{settings.gateway_port} (surveys at "
        f"{settings.gateway_url}/s/<token>, API docs at /docs); issuers authenticate with "
        f"their own tokens (hailong devices register --kind issuer); publishing to "
        f"{settings.topics.qr}",
        flush=True,
    )
    logging.basicConfig(
        level=args.log_level.upper(), format="%(asctime)s gateway %(levelname)s %(message)s"
    )
    logging.getLogger("uvicorn.access").addFilter(RedactTokens())
    # X-Forwarded-For is believed only from the trusted proxies (default: none, so the
    # rate limit keys on the connecting address and no client can choose its own).
    proxies = (
        args.forwarded_allow_ips
        if args.forwarded_allow_ips is not None
        else settings.gateway_trusted_proxies
    ).strip()
    uvicorn.run(
        app,
        host=settings.gateway_host,
        port=settings.gateway_port,
        log_level=args.log_level,
        proxy_headers=bool(proxies),
        forwarded_allow_ips=proxies or None,
        server_header=False,
    )
