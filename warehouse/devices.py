"""The device registry (``hailong devices``): who may publish events that count.

A device (a kiosk, a camera, a gateway such as the QR gateway or the camera adapter,
an issuer: an office's queue system that asks the QR gateway for survey tokens) has
one or more Ed25519 keys over time; a camera and an issuer also have a bearer token.
Each key is bound to one office (a gateway's to none: it publishes for any office, and
checks what it publishes itself) from ``valid_from`` until ``valid_to`` (exclusive;
open when 0). Registering makes key 1, rotating makes key N+1 from now and ends key N
now, revoking marks every key of the device: from that moment nothing the broker
receives signed by it counts, whatever time the event claims, and its token is refused.
The table ``device_changes`` keeps every change (who, why,
when); the view ``devices`` shows each key's latest state. Only public keys are stored.

The stream worker checks every event against these keys (``streams/plausible.py``);
a device's config file (:func:`device_config`) holds its private key and is written
once, when the key is made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from hailong.clock import SYSTEM, Clock
from hailong.errors import HailongError
from hailong.signing import MAX_DEVICE_ID, Keyring, Signer, new_key
from warehouse.buckets import epoch_us
from warehouse.client import Warehouse

KINDS = ("kiosk", "camera", "gateway", "issuer")
# The kinds that authenticate to a Hailong HTTP service with a bearer token of their own
# (the registry keeps its sha256), and the name of the token in their config.
TOKEN_NAMES = {"camera": "webhook_token", "issuer": "issuer_token"}
SIMULATOR_GATEWAY = "simulator-gateway"
COLUMNS = (
    "device_id",
    "key_id",
    "kind",
    "office_id",
    "public_key",
    "token_sha256",
    "valid_from_us",
    "valid_to_us",
    "revoked_at_us",
    "action",
    "why",
    "changed_by",
    "changed_at",
    "changed_at_us",
)


class DeviceError(HailongError):
    """A device change that cannot be made (unknown device, bad kind, ...)."""


@dataclass(frozen=True)
class Key:
    """One key of one device, in its latest state."""

    device_id: str
    key_id: int
    kind: str
    office_id: str
    public_key: bytes
    valid_from_us: int
    valid_to_us: int  # 0: open
    revoked_at_us: int  # 0: not revoked
    # A camera's webhook token (``hailong camera``) or an issuer's token (the QR gateway's
    # ``POST /api/v1/tokens``), as sha256 hex; the token itself is in its config only.
    token_sha256: str = ""

    def valid_at(self, at_us: int) -> bool:
        return self.valid_from_us <= at_us and (not self.valid_to_us or at_us < self.valid_to_us)


@dataclass(frozen=True)
class NewKey:
    """A key just made: its state, and the private key (never stored by the platform);
    for a camera or an issuer also its bearer token (stored as a hash only)."""

    key: Key
    private_key: bytes
    webhook_token: str = ""


def _new(device_id: str, key_id: int, kind: str, office_id: str, valid_from_us: int) -> NewKey:
    private, public = new_key()
    token = secrets.token_urlsafe(32) if kind in TOKEN_NAMES else ""
    digest = hashlib.sha256(token.encode()).hexdigest() if token else ""
    return NewKey(
        Key(device_id, key_id, kind, office_id, public, valid_from_us, 0, 0, digest), private, token
    )


def token_digest(token: str) -> str:
    """The sha256 hex of a webhook token, as the registry stores it."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class DeviceKeys:
    """Every key of the registry, for the worker's checks; ``version`` changes with
    every change of the registry (the worker reloads then)."""

    version: tuple[int, int]
    keys: dict[tuple[str, int], Key]

    def get(self, device_id: str, key_id: int) -> Key | None:
        return self.keys.get((device_id, key_id))


def version(wh: Warehouse) -> tuple[int, int]:
    """(changes, latest change µs): what the worker compares to know it is current."""
    n, latest = wh.execute("SELECT count(), max(changed_at_us) FROM device_changes")[0]
    return int(n), int(latest or 0)


def keys(wh: Warehouse, device_id: str | None = None) -> list[Key]:
    """Every key (of one device, or all), latest state, by device and key."""
    where = "WHERE device_id = %(d)s" if device_id is not None else ""
    rows = wh.execute(
        "SELECT device_id, key_id, kind, office_id, public_key, valid_from_us, valid_to_us, "
        f"revoked_at_us, token_sha256 FROM devices {where} ORDER BY device_id, key_id",
        {"d": device_id},
    )
    return [
        Key(d, int(k), kind, office, bytes.fromhex(pub), int(f), int(t), int(r), tok)
        for d, k, kind, office, pub, f, t, r, tok in rows
    ]


def load_keys(wh: Warehouse) -> DeviceKeys:
    v = version(wh)
    return DeviceKeys(v, {(k.device_id, k.key_id): k for k in keys(wh)})


def _write(wh: Warehouse, changes: list[tuple[Key, str]], why: str, by: str, now: datetime) -> None:
    at_us = epoch_us(now)
    wh.insert(
        "device_changes",
        COLUMNS,
        [
            (
                k.device_id,
                k.key_id,
                k.kind,
                k.office_id,
                k.public_key.hex(),
                k.token_sha256,
                k.valid_from_us,
                k.valid_to_us,
                k.revoked_at_us,
                action,
                why,
                by,
                now.replace(microsecond=0, tzinfo=None),
                at_us,
            )
            for k, action in changes
        ],
    )


def _check(device_id: str, kind: str, office_id: str) -> None:
    if not device_id or len(device_id) > MAX_DEVICE_ID or not device_id.isprintable():
        raise DeviceError(f"a device id has 1-{MAX_DEVICE_ID} printable characters: {device_id!r}")
    if kind not in KINDS:
        raise DeviceError(f"kind {kind!r} is not one of {', '.join(KINDS)}")
    if kind == "gateway" and office_id:
        raise DeviceError("a gateway publishes for any office: give it no --office")
    if kind != "gateway" and not office_id:
        raise DeviceError(f"a {kind} is bound to one office: give its --office")


def register(
    wh: Warehouse,
    device_id: str,
    kind: str,
    office_id: str = "",
    *,
    valid_from: datetime | None = None,
    by: str,
    why: str = "registered",
    clock: Clock = SYSTEM,
) -> NewKey:
    """Register a new device with its first key (valid from ``valid_from``, default now)."""
    _check(device_id, kind, office_id)
    if keys(wh, device_id):
        raise DeviceError(
            f"device {device_id} is registered already (rotate its key, or "
            "revoke it and register a new id)"
        )
    now = clock.now()
    new = _new(device_id, 1, kind, office_id, epoch_us(valid_from or now))
    _write(wh, [(new.key, "register")], why, by, now)
    return new


def rotate(
    wh: Warehouse,
    device_id: str,
    *,
    office_id: str | None = None,
    by: str,
    why: str = "rotated",
    clock: Clock = SYSTEM,
) -> NewKey:
    """A new key for a device from now (optionally bound to another office); its
    current key ends now."""
    current = keys(wh, device_id)
    if not current:
        raise DeviceError(f"device {device_id} is not registered")
    last = current[-1]
    if last.revoked_at_us:
        raise DeviceError(f"device {device_id} is revoked; register a new device id")
    office = last.office_id if office_id is None else office_id
    _check(device_id, last.kind, office)
    now = clock.now()
    now_us = epoch_us(now)
    ended = [
        replace(k, valid_to_us=now_us)
        for k in current
        if not k.valid_to_us or k.valid_to_us > now_us
    ]
    new = _new(device_id, last.key_id + 1, last.kind, office, now_us)
    _write(wh, [*((k, "rotate") for k in ended), (new.key, "rotate")], why, by, now)
    return new


def revoke(wh: Warehouse, device_id: str, *, by: str, why: str, clock: Clock = SYSTEM) -> list[Key]:
    """Revoke every key of a device from now."""
    if not why.strip():
        raise DeviceError("a revocation needs a reason (--why)")
    current = keys(wh, device_id)
    if not current:
        raise DeviceError(f"device {device_id} is not registered")
    now = clock.now()
    now_us = epoch_us(now)
    revoked = [replace(k, revoked_at_us=k.revoked_at_us or now_us) for k in current]
    _write(wh, [(k, "revoke") for k in revoked], why, by, now)
    return revoked


def device_config(new: NewKey, settings_hint: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a device loads (``hailong kiosk --config``, a vendor's own client): its id,
    office, key and where to publish. Contains the private key: a secret."""
    k = new.key
    token = {TOKEN_NAMES[k.kind]: new.webhook_token} if new.webhook_token else {}
    return {
        "device_id": k.device_id,
        "kind": k.kind,
        "office_id": k.office_id,
        "key_id": k.key_id,
        "private_key": base64.b64encode(new.private_key).decode(),
        "public_key": k.public_key.hex(),
        **token,
        **(settings_hint or {}),
    }


def write_config(path: Path, config: dict[str, Any]) -> None:
    """Write a device config, readable by its owner only (created 0600, never widened)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(config, f, indent=2)
        f.write("\n")
    path.chmod(0o600)


def signer_from_config(path: Path) -> Signer:
    """The signer of a device config file."""
    try:
        c = json.loads(path.read_text("utf-8"))
        return Signer(c["device_id"], int(c["key_id"]), base64.b64decode(c["private_key"]))
    except (OSError, ValueError, KeyError) as exc:
        raise DeviceError(f"{path}: not a device config ({exc})") from None


def provision(
    wh: Warehouse,
    path: Path,
    wanted: Sequence[tuple[str, str, str]],
    *,
    by: str,
    clock: Clock = SYSTEM,
) -> Keyring:
    """Keys for many devices at once, kept in one config file (``path``, 0600): the
    simulator's devices (``hailong simulate``, ``hailong demo``, the benchmarks). Each
    wanted (device_id, kind, office_id) that has no key in the registry matching the
    file's gets one, valid since ever (simulated traffic has past dates): registered, or,
    when the registry has another key (the file was lost), a new key that replaces it.
    A registry without the device (a new database) gets the file's key again. Returns
    the keyring; a gateway named ``simulator-gateway`` signs QR surveys."""
    stored: dict[str, dict[str, Any]] = {}
    if path.exists():
        try:
            stored = json.loads(path.read_text("utf-8"))
        except ValueError as exc:
            raise DeviceError(f"{path}: not a device keyring ({exc})") from None
    latest: dict[str, Key] = {}
    for k in keys(wh):
        latest[k.device_id] = k  # keys come by key_id: the last is the newest
    now = clock.now()
    changes: list[tuple[Key, str]] = []
    for device_id, kind, office_id in wanted:
        _check(device_id, kind, office_id)
        cur, entry = latest.get(device_id), stored.get(device_id)
        if cur is not None and cur.revoked_at_us:
            raise DeviceError(f"simulated device {device_id} is revoked")
        if (
            cur is not None
            and entry is not None
            and entry["key_id"] == cur.key_id
            and entry["public_key"] == cur.public_key.hex()
            and cur.office_id == office_id
        ):
            continue
        if cur is None and entry is not None and entry["office_id"] == office_id:
            # a fresh registry (a new database): the file's key, registered again
            token = entry.get(TOKEN_NAMES.get(kind, ""), "")
            changes.append(
                (
                    Key(
                        device_id,
                        int(entry["key_id"]),
                        kind,
                        office_id,
                        bytes.fromhex(entry["public_key"]),
                        0,
                        0,
                        0,
                        token_digest(token) if token else "",
                    ),
                    "register",
                )
            )
            continue
        if cur is not None:  # the old key never signs again
            changes.append((replace(cur, valid_to_us=1), "rotate"))
        made = _new(device_id, (cur.key_id + 1) if cur else 1, kind, office_id, 0)
        changes.append((made.key, "rotate" if cur else "register"))
        stored[device_id] = device_config(made)
    if changes:
        _write(wh, changes, "simulated device", by, now)
        write_config(path, stored)
    signers = [
        Signer(c["device_id"], int(c["key_id"]), base64.b64decode(c["private_key"]))
        for c in stored.values()
    ]
    gateway = next((s for s in signers if s.device_id == SIMULATOR_GATEWAY), None)
    return Keyring([s for s in signers if s.device_id != SIMULATOR_GATEWAY], gateway)
