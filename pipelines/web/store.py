"""The dashboard's accounts, sessions, failed logins and API tokens, kept in the
private database (``warehouse/private.py``: its schema, and why it is apart)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from hailong.clock import Clock
from hailong.settings import Settings
from pipelines.web.auth import (
    SESSION_HOURS,
    Account,
    AuthError,
    check_account,
    digest,
    hash_password,
    locked_until,
    new_token,
    verify_password,
)
from warehouse.client import Warehouse
from warehouse.private import private_database

ACCOUNT_COLUMNS = (
    "name",
    "role",
    "scope",
    "office_id",
    "email",
    "password_hash",
    "disabled",
    "changed_by",
    "changed_at",
    "version",
)


@dataclass(frozen=True)
class ApiToken:
    label: str
    unit_code: str  # '' = the whole city


_DUMMY_HASH = hash_password("not any account's password")


class Accounts:
    """The private database, for one request or one command."""

    def __init__(self, settings: Settings, clock: Clock, wh: Any | None = None) -> None:
        """``wh``: the private database's connection (default: opened here; chdb's in
        the tests of the current engine)."""
        self.settings = settings
        self.clock = clock
        self.wh = wh if wh is not None else Warehouse(settings, database=private_database(settings))

    def close(self) -> None:
        self.wh.close()

    def __enter__(self) -> Accounts:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _version(self) -> tuple[datetime, int]:
        now = self.clock.now()
        return now.replace(microsecond=0), int(now.timestamp() * 1_000_000)

    # --- accounts ----------------------------------------------------------------------

    def _row(self, name: str) -> tuple[Any, ...] | None:
        rows = self.wh.execute(
            "SELECT name, role, scope, office_id, email, password_hash, disabled FROM accounts "
            "FINAL WHERE name = %(n)s",
            {"n": name},
        )
        return rows[0] if rows else None

    def get(self, name: str) -> Account | None:
        row = self._row(name)
        if row is None or row[6]:
            return None
        return Account(row[0], row[1], row[2], row[3], row[4])

    def all(self) -> list[tuple[Account, bool]]:
        rows = self.wh.execute(
            "SELECT name, role, scope, office_id, email, disabled FROM accounts FINAL ORDER BY name"
        )
        return [(Account(n, r, s, o, e), bool(d)) for n, r, s, o, e, d in rows]

    def add(self, account: Account, password: str, by: str) -> None:
        check_account(account.name, account.role, account.scope, account.office_id)
        if self._row(account.name) is not None:
            raise AuthError(f"account {account.name} exists (passwd, disable)")
        self._write(account, hash_password(password), 0, by)

    def _write(self, a: Account, password_hash: str, disabled: int, by: str) -> None:
        at, version = self._version()
        self.wh.insert(
            "accounts",
            ACCOUNT_COLUMNS,
            [
                (
                    a.name,
                    a.role,
                    a.scope,
                    a.office_id,
                    a.email,
                    password_hash,
                    disabled,
                    by,
                    at,
                    version,
                )
            ],
        )

    def set_password(self, name: str, password: str, by: str) -> None:
        row = self._row(name)
        if row is None:
            raise AuthError(f"no account {name}")
        self._write(Account(*row[:5]), hash_password(password), int(row[6]), by)
        self.end_sessions(name)

    def set_disabled(self, name: str, disabled: bool, by: str) -> None:
        row = self._row(name)
        if row is None:
            raise AuthError(f"no account {name}")
        self._write(Account(*row[:5]), row[5], int(disabled), by)
        if disabled:
            self.end_sessions(name)

    # --- logins and sessions -----------------------------------------------------------

    def login(self, name: str, password: str) -> str:
        """A new session's token, or AuthError (the same text for a wrong name, a wrong
        password and a disabled account; another for a locked one)."""
        now = self.clock.now()
        failures = [
            _at(at)
            for (at,) in self.wh.execute(
                "SELECT toUInt32(at) FROM login_failures WHERE name = %(n)s "
                "AND at >= toDateTime(%(s)s, 'UTC')",
                {"n": name, "s": int(now.timestamp()) - 3600},
            )
        ]
        until = locked_until(failures, now)
        if until is not None:
            raise LockedOut(f"too many failed logins: try again after {until:%H:%M} UTC")
        row = self._row(name)
        # An unknown name costs the same hash as a known one: the time of the answer does
        # not say which names exist.
        stored = row[5] if row is not None else _DUMMY_HASH
        if not verify_password(stored, password) or row is None or row[6]:
            self.wh.insert("login_failures", ("name", "at"), [(name, now.replace(microsecond=0))])
            raise AuthError("wrong account name or password")
        token = new_token()
        at, version = self._version()
        self.wh.insert(
            "sessions",
            ("digest", "name", "created_at", "expires_at", "revoked", "version"),
            [(digest(token), name, at, at + timedelta(hours=SESSION_HOURS), 0, version)],
        )
        return token

    def _of_token(self, sql: str, token: str | None) -> tuple[Any, ...] | None:
        """The row ``sql`` selects for a token's digest (``%(d)s``); None: no token, or
        no row."""
        if not token:
            return None
        rows = self.wh.execute(sql, {"d": digest(token)})
        return rows[0] if rows else None

    def session(self, token: str | None) -> Account | None:
        """The account of a live session (None: none, expired, ended, or disabled)."""
        row = self._of_token(
            "SELECT name, toUInt32(expires_at), revoked FROM sessions FINAL WHERE digest = %(d)s",
            token,
        )
        if row is None or row[2] or row[1] <= self.clock.time():
            return None
        return self.get(row[0])

    def logout(self, token: str) -> None:
        row = self._of_token(
            "SELECT name, toUInt32(created_at), toUInt32(expires_at) "
            "FROM sessions FINAL WHERE digest = %(d)s",
            token,
        )
        if row is not None:
            _, version = self._version()
            name, created, expires = row
            self.wh.insert(
                "sessions",
                ("digest", "name", "created_at", "expires_at", "revoked", "version"),
                [(digest(token), name, _at(created), _at(expires), 1, version)],
            )

    def end_sessions(self, name: str) -> int:
        rows = self.wh.execute(
            "SELECT digest, name, toUInt32(created_at), "
            "toUInt32(expires_at) FROM sessions FINAL "
            "WHERE name = %(n)s AND revoked = 0",
            {"n": name},
        )
        _, version = self._version()
        self.wh.insert(
            "sessions",
            ("digest", "name", "created_at", "expires_at", "revoked", "version"),
            [(d, n, _at(c), _at(e), 1, version) for d, n, c, e in rows],
        )
        return len(rows)

    # --- API tokens --------------------------------------------------------------------

    def new_api_token(self, label: str, unit_code: str, by: str) -> str:
        if not label.strip():
            raise AuthError("give the token a label (who uses it)")
        token = new_token()
        at, version = self._version()
        self.wh.insert(
            "api_tokens",
            ("digest", "label", "unit_code", "created_by", "created_at", "revoked", "version"),
            [(digest(token), label, unit_code, by, at, 0, version)],
        )
        return token

    def api_token(self, token: str | None) -> ApiToken | None:
        row = self._of_token(
            "SELECT label, unit_code, revoked FROM api_tokens FINAL WHERE digest = %(d)s", token
        )
        if row is None or row[2]:
            return None
        return ApiToken(row[0], row[1])

    def api_tokens(self) -> list[tuple[str, str, str, datetime, bool]]:
        return [
            (label, unit, by, _at(at), bool(r))
            for label, unit, by, at, r in self.wh.execute(
                "SELECT label, unit_code, created_by, toUInt32(created_at), "
                "revoked FROM api_tokens FINAL ORDER BY created_at"
            )
        ]

    def revoke_api_tokens(self, label: str) -> int:
        rows: Sequence[tuple[Any, ...]] = self.wh.execute(
            "SELECT digest, label, unit_code, created_by, toUInt32(created_at) FROM api_tokens "
            "FINAL WHERE label = %(l)s AND revoked = 0",
            {"l": label},
        )
        _, version = self._version()
        self.wh.insert(
            "api_tokens",
            ("digest", "label", "unit_code", "created_by", "created_at", "revoked", "version"),
            [(d, lb, u, b, _at(at), 1, version) for d, lb, u, b, at in rows],
        )
        return len(rows)


class LockedOut(AuthError):
    """Too many failed logins: no password is checked until the lock ends."""


def _at(epoch_s: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch_s), UTC)
