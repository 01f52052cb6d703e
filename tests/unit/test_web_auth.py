"""The dashboard's rules of access (pipelines/web/auth.py), its accounts store on the
current ClickHouse engine (chdb; the server in the browser tests), and its words."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from hailong.clock import TestingClock
from hailong.settings import load_settings
from pipelines.web.auth import (
    MAX_FAILURES,
    Account,
    AuthError,
    check_account,
    csrf_ok,
    csrf_token,
    hash_password,
    locked_until,
    verify_password,
)
from pipelines.web.i18n import WORDS
from pipelines.web.store import Accounts, LockedOut
from pipelines.web.views import safe_next
from warehouse.private import SCHEMA

UNIT_OF = {"HN-A1": "A", "HN-A2": "A", "HN-B1": "B"}
NOW = datetime(2026, 3, 4, 3, 30, tzinfo=UTC)


def test_each_role_sees_its_scope_and_nothing_more() -> None:
    city = Account("c", "city")
    unit_a = Account("u", "unit", "A")
    office_a1 = Account("o", "office", "HN-A1")
    staff = Account("s", "staff", "S-7", office_id="HN-A1")
    viewer_b = Account("v", "viewer", "unit:B")
    viewer_city = Account("w", "viewer")
    assert city.sees_city() and viewer_city.sees_city()
    assert not any(a.sees_city() for a in (unit_a, office_a1, staff, viewer_b))
    assert unit_a.sees_office("HN-A2", UNIT_OF) and not unit_a.sees_office("HN-B1", UNIT_OF)
    assert office_a1.sees_office("HN-A1", UNIT_OF)
    assert not office_a1.sees_office("HN-A2", UNIT_OF)  # an office head of A1 and A2's page
    assert not office_a1.sees_unit("A")
    assert not staff.sees_office("HN-A1", UNIT_OF)
    assert staff.sees_staff("S-7", "HN-A1", UNIT_OF)
    assert not staff.sees_staff("S-8", "HN-A1", UNIT_OF)  # another's score
    assert not staff.sees_staff("S-7", "HN-A2", UNIT_OF)  # their id at another office
    assert office_a1.sees_staff("S-8", "HN-A1", UNIT_OF)
    assert not office_a1.sees_staff("S-8", "HN-A2", UNIT_OF)
    assert viewer_b.sees_office("HN-B1", UNIT_OF) and not viewer_b.sees_office("HN-A1", UNIT_OF)
    assert not viewer_b.sees_staff("S-1", "HN-B1", UNIT_OF)  # viewers see no staff scores
    assert not viewer_city.can_act and not staff.can_act and unit_a.can_act
    assert not Account("x", "unit", "A").sees_office("HN-X", UNIT_OF)  # unknown office


@pytest.mark.parametrize(
    ("name", "role", "scope", "office"),
    [
        ("Bad Name", "city", "", ""),
        ("ok", "king", "", ""),
        ("ok", "city", "A", ""),
        ("ok", "unit", "", ""),
        ("ok", "staff", "S-1", ""),
        ("ok", "viewer", "A", ""),
    ],
)
def test_accounts_that_would_see_wrongly_are_refused(
    name: str, role: str, scope: str, office: str
) -> None:
    with pytest.raises(AuthError):
        check_account(name, role, scope, office)


def test_passwords_csrf_lockout_and_redirects() -> None:
    stored = hash_password("correct horse battery")
    assert stored.startswith("$argon2id$")
    assert verify_password(stored, "correct horse battery")
    assert not verify_password(stored, "wrong horse battery")
    assert not verify_password("not a hash", "x")
    with pytest.raises(AuthError, match="at least 12"):
        hash_password("short")
    assert csrf_ok("session-1", csrf_token("session-1"))
    assert not csrf_ok("session-2", csrf_token("session-1"))
    assert not csrf_ok("session-1", None) and not csrf_ok("session-1", "")
    failures = [NOW - timedelta(minutes=m) for m in range(MAX_FAILURES - 1)]
    assert locked_until(failures, NOW) is None
    failures.append(NOW - timedelta(minutes=1))
    assert locked_until(failures, NOW) == NOW + timedelta(minutes=15)
    assert locked_until(failures, NOW + timedelta(minutes=16)) is None  # the lock ends
    assert safe_next("/office/HN-1") == "/office/HN-1"
    for evil in ("//evil.example/x", "https://evil.example", "javascript:alert(1)"):
        assert safe_next(evil) == "/"


def test_every_word_the_templates_use_is_translated() -> None:
    folder = Path(__file__).parents[2] / "pipelines" / "web" / "templates"
    used = {
        m for f in folder.glob("*.html") for m in re.findall(r"t\('([a-z_]+)'\)", f.read_text())
    }
    assert used and used <= set(WORDS), used - set(WORDS)
    assert all(vi and en for vi, en in WORDS.values())


def test_the_accounts_store_on_the_current_engine(chdb_wh: Any) -> None:
    for statement in SCHEMA:
        chdb_wh.execute(statement)
    clock = TestingClock(NOW)
    store = Accounts(load_settings(), clock, wh=chdb_wh)
    store.add(Account("chair.a", "unit", "A", email="chair@a.example"), "a long password 1", "test")
    with pytest.raises(AuthError, match="exists"):
        store.add(Account("chair.a", "city"), "another long one", "test")
    token = store.login("chair.a", "a long password 1")
    assert store.session(token) == Account("chair.a", "unit", "A", "", "chair@a.example")
    assert store.session("forged") is None and store.session(None) is None
    clock.advance(13 * 3600)  # sessions last 12 hours
    assert store.session(token) is None
    token = store.login("chair.a", "a long password 1")
    store.logout(token)
    assert store.session(token) is None
    # Five wrong passwords lock the account, even against the right one, for 15 minutes.
    for _ in range(MAX_FAILURES):
        with pytest.raises(AuthError, match="wrong account name or password"):
            store.login("chair.a", "guess guess guess")
    with pytest.raises(LockedOut):
        store.login("chair.a", "a long password 1")
    clock.advance(16 * 60)
    token = store.login("chair.a", "a long password 1")
    # A new password or disabling the account ends its sessions.
    store.set_password("chair.a", "a new long password", "test")
    assert store.session(token) is None
    token = store.login("chair.a", "a new long password")
    store.set_disabled("chair.a", True, "test")
    assert store.session(token) is None
    with pytest.raises(AuthError):
        store.login("chair.a", "a new long password")
    # API tokens: shown once, stored as a digest, revocable by label.
    api = store.new_api_token("portal of A", "A", "test")
    assert store.api_token(api) is not None and store.api_token(api).unit_code == "A"  # type: ignore[union-attr]
    assert api not in str(chdb_wh.execute("SELECT * FROM api_tokens"))
    assert store.revoke_api_tokens("portal of A") == 1
    assert store.api_token(api) is None
