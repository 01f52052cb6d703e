"""Who may see what on the dashboard and the read API (issue 15), as pure rules.

**Roles and scopes.** Every account has one role and, except the city, one scope:

=========  ==============  ===================================================  =========
role       scope           sees                                                 may act
=========  ==============  ===================================================  =========
city       (none)          everything                                           yes
unit       a unit code     the unit and its offices                             yes
office     an office id    the office: its counters, staff scores, devices      yes
staff      a staff id      their own scores only (``office_id`` says where)     no
viewer     none/unit/      what the role of that scope sees, read-only           no
           office
=========  ==============  ===================================================  =========

"Act" is acknowledging or resolving an alert. Staff-level scores are seen by the city,
the unit of the office, the office, and the staff member themself; never by the public.

**Secrets.** Passwords are hashed with Argon2id (``argon2-cffi``, its current defaults);
sessions and API tokens are random (256 bits) and stored only as their SHA-256; the CSRF
token of a form is an HMAC of the session, so it cannot be guessed without the session
cookie. Logins lock after ``MAX_FAILURES`` failures within ``LOCK_MINUTES`` minutes.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from hailong.errors import HailongError

ROLES = ("city", "unit", "office", "staff", "viewer")
ACTING_ROLES = frozenset({"city", "unit", "office"})
MAX_FAILURES = 5
LOCK_MINUTES = 15
SESSION_HOURS = 12
MIN_PASSWORD = 12
NAME = re.compile(r"^[a-z0-9][a-z0-9._@-]{1,63}$")

_hasher = PasswordHasher()


class AuthError(HailongError):
    """An account or token that cannot be made as asked; the text says why."""


@dataclass(frozen=True)
class Account:
    """One person's account. ``scope``: a unit code (unit), an office id (office), a
    staff id (staff), or for a viewer ``unit:<code>`` / ``office:<id>`` / '' (the city);
    ``office_id``: a staff member's office."""

    name: str
    role: str
    scope: str = ""
    office_id: str = ""
    email: str = ""

    @property
    def can_act(self) -> bool:
        return self.role in ACTING_ROLES

    def sees_city(self) -> bool:
        return self.role == "city" or (self.role == "viewer" and not self.scope)

    def sees_unit(self, unit_code: str) -> bool:
        if self.sees_city():
            return True
        return (self.role == "unit" and self.scope == unit_code) or (
            self.role == "viewer" and self.scope == f"unit:{unit_code}"
        )

    def sees_office(self, office_id: str, unit_of: Mapping[str, str]) -> bool:
        """The office's page: its figures, counters, devices, comments."""
        if self.sees_unit(unit_of.get(office_id, "\0")):
            return True
        return (self.role == "office" and self.scope == office_id) or (
            self.role == "viewer" and self.scope == f"office:{office_id}"
        )

    def sees_staff(self, staff_id: str, office_id: str, unit_of: Mapping[str, str]) -> bool:
        """A staff member's scores: their office's heads and above, and themself."""
        if self.role == "staff":
            return self.scope == staff_id and self.office_id == office_id
        return self.role != "viewer" and self.sees_office(office_id, unit_of)


def check_account(name: str, role: str, scope: str, office_id: str = "") -> None:
    """Refuse an account that would see nothing or more than meant."""
    if not NAME.match(name):
        raise AuthError(
            f"account name {name!r}: 2-64 of a-z 0-9 . _ @ -, starting with a letter or digit"
        )
    if role not in ROLES:
        raise AuthError(f"role {role!r}: one of {', '.join(ROLES)}")
    if role == "city" and scope:
        raise AuthError("a city account has no scope")
    if role in ("unit", "office", "staff") and not scope:
        raise AuthError(f"a {role} account needs its scope (--scope)")
    if role == "staff" and not office_id:
        raise AuthError("a staff account needs its office (--office)")
    if role == "viewer" and scope and not scope.startswith(("unit:", "office:")):
        raise AuthError("a viewer's scope is unit:<code>, office:<id> or none (the city)")


def hash_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise AuthError(f"a password needs at least {MIN_PASSWORD} characters")
    return _hasher.hash(password)


def verify_password(stored_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def new_token() -> str:
    """A session or API token: 256 random bits, URL-safe."""
    return secrets.token_urlsafe(32)


def digest(token: str) -> str:
    """What the store keeps of a session or API token."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def csrf_token(session_token: str) -> str:
    """The token every form of this session carries (an HMAC of the session: the
    server recomputes it, nothing more to store)."""
    return hmac.new(session_token.encode("utf-8"), b"hailong-csrf/1", hashlib.sha256).hexdigest()


def csrf_ok(session_token: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(csrf_token(session_token), given or "")


def locked_until(failures: Sequence[datetime], now: datetime) -> datetime | None:
    """When a login may be tried again after these failed attempts (None: now).
    ``MAX_FAILURES`` failures within ``LOCK_MINUTES`` lock the account for
    ``LOCK_MINUTES`` from the last of them."""
    window = sorted(f for f in failures if now - f < timedelta(minutes=LOCK_MINUTES))
    if len(window) < MAX_FAILURES:
        return None
    return window[-1] + timedelta(minutes=LOCK_MINUTES)
