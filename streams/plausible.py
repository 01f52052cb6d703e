"""Is a valid event plausible? The rules that send it to the quarantine (pure logic).

An event can follow contract v1 to the letter and still be implausible: a device
that names another office than the Kafka key it sends under, a clock far in the
future, an event older than anything a device should still hold, an office that does
not exist on the event's day. Such an event is not counted and not dropped: the worker
keeps it in the ``quarantine`` table with the reasons found here, city IT sees it
(view ``quarantined_events``), and ``hailong quarantine release`` counts the ones a
person reviewed (``warehouse/quarantine.py``).

The times are compared with the **broker's** timestamp of the message. The event topics
are created with ``message.timestamp.type=LogAppendTime`` (``infra/topics.py``), so the
broker sets it when it appends the message and a sender cannot choose it. A late but
plausible event (a kiosk that was offline for 3 days) counts; if its period's ranking
is already published, the ranking is marked stale (``warehouse/staleness.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import lru_cache

from hailong import qrtoken
from hailong.contract import QrSurvey
from hailong.methodology import LOCAL_TZ
from hailong.registry import OfficeCalendar
from hailong.settings import Settings
from hailong.signing import Headers, SignatureRefused, read_headers, verify
from warehouse.devices import DeviceKeys

DAY_US = 86_400 * 1_000_000


@dataclass(frozen=True)
class Rules:
    """What the worker checks; from :class:`Settings` with :meth:`from_settings`."""

    max_skew_us: int  # how far an event may be ahead of the broker's timestamp
    horizon_us: int | None  # how far behind it (None: no limit)
    calendar: OfficeCalendar | None  # None: offices are not checked
    keys: DeviceKeys | None = None  # None: signatures are not checked
    qr_secret: str | None = None  # the QR gateway's token key; None: tokens not checked

    @classmethod
    def from_settings(
        cls,
        s: Settings,
        calendar: OfficeCalendar | None,
        keys: DeviceKeys | None = None,
        qr_secret: str | None = None,
    ) -> Rules:
        return cls(
            round(s.max_clock_skew_s * 1_000_000),
            round(s.late_horizon_days * DAY_US) if s.late_horizon_days else None,
            calendar if s.quarantine_unregistered else None,
            keys if s.require_signatures else None,
            qr_secret if s.require_signatures else None,
        )


QUARTER_US = 900 * 1_000_000


@lru_cache(maxsize=65_536)
def local_day(quarter: int) -> date:
    """The local (Hanoi) day of a UTC quarter hour. Every time zone's offset is a whole
    number of quarter hours, so a day never starts inside one; cached, since a batch's
    events fall in few quarters (this is on the worker's per-event path: bench 8)."""
    return datetime.fromtimestamp(quarter * 900, LOCAL_TZ).date()


def _when(us: int) -> str:
    try:
        return datetime.fromtimestamp(us / 1_000_000, UTC).isoformat().replace("+00:00", "Z")
    except (ValueError, OverflowError, OSError):  # a broker timestamp past year 9999
        return f"{us} µs after 1970"


def doubts(
    office_id: str, at_us: int, key: bytes | None, broker_us: int | None, rules: Rules
) -> list[str]:
    """Why an event of ``office_id`` at ``at_us`` (UTC µs), sent under ``key`` and
    appended by the broker at ``broker_us``, is implausible; [] when it is not."""
    found = []
    if key != office_id.encode("utf-8"):
        shown = "none" if key is None else repr(key[:80])[1:]
        found.append(f"the Kafka key ({shown}) is not the event's office_id {office_id!r}")
    if broker_us is not None and broker_us > 0:
        ahead = at_us - broker_us
        if ahead > rules.max_skew_us:
            found.append(
                f"its time {_when(at_us)} is {ahead / 1e6:,.0f} s ahead of the "
                f"broker's timestamp {_when(broker_us)} (at most "
                f"{rules.max_skew_us / 1e6:,.0f} s allowed)"
            )
        if rules.horizon_us is not None and broker_us - at_us > rules.horizon_us:
            found.append(
                f"its time {_when(at_us)} is {(broker_us - at_us) / DAY_US:,.1f} days "
                f"before the broker's timestamp {_when(broker_us)} (the horizon is "
                f"{rules.horizon_us / DAY_US:,.1f} days)"
            )
    if rules.calendar is not None:
        day = local_day(at_us // QUARTER_US)
        if not rules.calendar.registered(office_id, day):
            found.append(
                f"office {office_id!r} is not in the registry (version "
                f"{rules.calendar.version}) on {day.isoformat()}"
            )
    return found


# Which kind of device may sign each channel's events, and the event field that names
# the device itself (a gateway signs for the devices behind it: QR phones, cameras).
SIGNERS = {
    "kiosk": (("kiosk", "device_id"),),
    "camera": (("camera", "camera_id"), ("gateway", None)),
    "qr": (("gateway", None),),
}


def signature_doubt(
    channel: str,
    event: object,
    value: bytes,
    headers: Headers | None,
    at_us: int,
    broker_us: int | None,
    keys: DeviceKeys,
) -> str | None:
    """Why an event's signature does not make it count; None when it does: signed over
    ``value`` by a registered key of a device of the right kind, not revoked when the
    broker received it, valid at the event's time, bound to the event's office, and (a
    kiosk, a camera) the device the event names."""
    try:
        signed = read_headers(headers)
    except SignatureRefused as exc:
        return str(exc)
    who = f"device {signed.device_id!r} key {signed.key_id}"
    key = keys.get(signed.device_id, signed.key_id)
    if key is None:
        return f"{who} is not registered"
    allowed = dict(SIGNERS[channel])
    if key.kind not in allowed:
        return f"{who} is a {key.kind}, which does not sign {channel} events"
    field = allowed[key.kind]
    if field is not None and getattr(event, field) != signed.device_id:
        return f"{who} signed an event of {field} {getattr(event, field)!r}"
    received = broker_us if broker_us is not None and broker_us > 0 else at_us
    if key.revoked_at_us and received >= key.revoked_at_us:
        return f"{who} was revoked at {_when(key.revoked_at_us)}"
    if not key.valid_at(at_us):
        until = _when(key.valid_to_us) if key.valid_to_us else "open"
        return (
            f"{who} is valid from {_when(key.valid_from_us)} to {until}, not at the "
            f"event's time {_when(at_us)}"
        )
    office = getattr(event, "office_id", "")
    if key.office_id and key.office_id != office:
        return f"{who} is bound to office {key.office_id!r}, not {office!r}"
    if not verify(key.public_key, value, signed.signature):
        return f"the signature of {who} does not match the message's value"
    return None


def qr_token_doubt(
    event: QrSurvey, headers: Headers | None, secret: str, max_skew_us: int
) -> str | None:
    """Why a QR survey's token does not make it count; None when it does: the QR
    gateway sends the survey's token in the header ``hailong-qr-token``, and it must be
    one the gateway issued (its HMAC under ``secret``), for this survey's office and
    token id, and not expired when the survey was submitted."""
    texts = [v for name, v in headers or () if name == qrtoken.QR_TOKEN_HEADER]
    if not texts:
        return "no QR token (header hailong-qr-token): only the QR gateway's surveys count"
    if len(texts) > 1:
        return "header hailong-qr-token appears twice"
    try:
        text = (texts[0] or b"").decode("ascii")
    except UnicodeDecodeError:
        return "the QR token is not ASCII"
    at = event.submitted_at
    try:
        token = qrtoken.verify(secret, text, at, check_expiry=False)
    except qrtoken.TokenError as exc:
        return f"the QR token: {exc}"
    if (token.office_id, token.token_id) != (event.office_id, event.token_id):
        return (
            f"the QR token is token {token.token_id!r} of office {token.office_id!r}, "
            f"the survey says {event.token_id!r} of {event.office_id!r}"
        )
    if (at - token.expires_at).total_seconds() * 1e6 > max_skew_us:
        return f"submitted at {at.isoformat()}, after the token expired ({token.expires_at})"
    return None
