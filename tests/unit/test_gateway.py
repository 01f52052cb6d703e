"""The QR gateway's pure logic: signed tokens (sign, verify, expiry, tampering), the
single-use store, the rate limiter, bearer keys, reading the survey form, and the page."""

from __future__ import annotations

import re
import string
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hailong import qrtoken as tokens
from hailong.clock import TestingClock
from hailong.http import RateLimiter, bearer_ok, json_loads_strict
from hailong.questionnaire import questionnaires
from producers.gateway import RedactTokens, page
from producers.gateway.models import parse_form
from producers.gateway.store import TokenStore

KEY = "test-secret-key"
NOW = datetime(2026, 11, 24, 2, 15, 0, tzinfo=UTC)
Q = questionnaires()["sipas-5/1"]


def issued(office: str = "HN-00004", ttl_h: float = 72) -> tokens.Token:
    return tokens.issue(KEY, office, timedelta(hours=ttl_h), now=NOW)


# --- tokens ------------------------------------------------------------------------------
def test_token_round_trip() -> None:
    tok = issued()
    got = tokens.verify(KEY, tok.text, now=NOW + timedelta(hours=71))
    assert (got.office_id, got.token_id) == ("HN-00004", tok.token_id)
    assert got.issued_at == NOW and got.expires_at == NOW + timedelta(hours=72)
    # token_id fits the contract's identifier rule; every character is URL-safe
    assert re.fullmatch(r"[A-Za-z0-9._-]{1,64}", tok.token_id)
    assert set(tok.text) <= set(string.ascii_letters + string.digits + "._-~")
    assert len(tok.text) < 130  # short enough for a small QR code


def test_token_ids_are_unique() -> None:
    assert len({issued().token_id for _ in range(1000)}) == 1000


def test_expired_token_is_refused_at_its_expiry() -> None:
    tok = issued(ttl_h=1)
    tokens.verify(KEY, tok.text, now=NOW + timedelta(minutes=59, seconds=59))
    with pytest.raises(tokens.ExpiredToken) as info:
        tokens.verify(KEY, tok.text, now=NOW + timedelta(hours=1))
    assert info.value.status == 410
    # the thank-you page may still read an expired token
    assert (
        tokens.verify(KEY, tok.text, now=NOW + timedelta(days=9), check_expiry=False).token_id
        == tok.token_id
    )


def test_every_single_character_change_is_refused() -> None:
    tok = issued()
    alphabet = string.ascii_letters + string.digits + "._-~"
    for i, ch in enumerate(tok.text):
        for other in {alphabet[(alphabet.index(ch) + 1) % len(alphabet)], "A", "9"} - {ch}:
            forged = tok.text[:i] + other + tok.text[i + 1 :]
            with pytest.raises(tokens.TokenError):
                tokens.verify(KEY, forged, now=NOW)


def test_tampered_fields_are_forged_not_expired() -> None:
    tok = issued(ttl_h=1)
    parts = tok.text.split("~")
    # another office, a later expiry: the signature no longer matches → 403
    for i, value in ((1, "HN-00005"), (4, str(int(parts[4]) + 86400 * 365))):
        changed = "~".join([*parts[:i], value, *parts[i + 1 :]])
        with pytest.raises(tokens.ForgedToken) as info:
            tokens.verify(KEY, changed, now=NOW + timedelta(hours=2))
        assert info.value.status == 403
    # signed with another key
    with pytest.raises(tokens.ForgedToken):
        tokens.verify("another key", tok.text, now=NOW)


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello",
        "v2~HN-1~qr-1~1~2~" + "A" * 43,
        "v1~HN 1~qr-1~1~2~" + "A" * 43,
        "v1~HN-1~qr-1~1~2~" + "A" * 42,
        "v1~HN-1~qr-1~1~2~" + "A" * 43 + "~x",
        "v1~" * 100,
    ],
)
def test_malformed_tokens(text: str) -> None:
    with pytest.raises(tokens.MalformedToken) as info:
        tokens.verify(KEY, text, now=NOW)
    assert info.value.status == 400


def test_sign_refuses_identifiers_outside_the_contract() -> None:
    with pytest.raises(ValueError, match="1-64"):
        tokens.sign(KEY, "HN 4", "qr-1", NOW, NOW + timedelta(hours=1))
    with pytest.raises(ValueError, match="1-64"):
        tokens.sign(KEY, "HN-4", "x" * 65, NOW, NOW + timedelta(hours=1))


def test_access_logs_lose_token_signatures() -> None:
    import logging

    tok = issued()
    record = logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        "",
        0,
        '%s "%s %s"',
        ("1.2.3.4", "GET", f"/s/{tok.text}?lang=en"),
        None,
    )
    RedactTokens().filter(record)
    line = record.getMessage()
    assert tok.text.rsplit("~", 1)[1] not in line and tok.token_id in line


# --- single use --------------------------------------------------------------------------
def test_store_single_use_release_and_durability(tmp_path: Path) -> None:
    path = tmp_path / "tokens.sqlite"
    clock = TestingClock(NOW)
    store = TokenStore(path, stale_after_s=120, clock=clock)
    exp = NOW + timedelta(hours=72)
    assert store.reserve("qr-a", "HN-1", exp)
    assert not store.reserve("qr-a", "HN-1", exp)  # in flight: refused
    store.release("qr-a")  # Kafka failed
    assert store.state("qr-a") is None
    assert store.reserve("qr-a", "HN-1", exp)
    store.confirm("qr-a", "e-1")
    store.release("qr-a")  # a used token is never released
    assert store.state("qr-a") == "used"
    store.close()
    clock.advance(3600)
    reopened = TokenStore(path, clock=clock)  # survives a restart
    assert reopened.state("qr-a") == "used"
    assert not reopened.reserve("qr-a", "HN-1", exp)
    assert reopened._db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    reopened.close()


def test_store_takes_over_a_stale_reservation_but_never_a_used_token(tmp_path: Path) -> None:
    clock = TestingClock(NOW)
    store = TokenStore(tmp_path / "t.sqlite", stale_after_s=120, clock=clock)
    exp = NOW + timedelta(hours=72)
    assert store.reserve("qr-b", "HN-1", exp)  # the gateway died here
    clock.advance(119)
    assert not store.reserve("qr-b", "HN-1", exp)
    clock.advance(2)
    assert store.reserve("qr-b", "HN-1", exp)
    store.confirm("qr-b", "e-2")
    clock.advance(2 * 86400)
    assert not store.reserve("qr-b", "HN-1", exp)


def test_store_purges_rows_of_long_expired_tokens_by_its_own_clock(tmp_path: Path) -> None:
    clock = TestingClock(NOW - timedelta(days=6))
    store = TokenStore(tmp_path / "t.sqlite", clock=clock)
    store.reserve("qr-old", "HN-1", NOW - timedelta(days=3))
    clock.advance(6 * 86400)
    store.reserve("qr-new", "HN-1", NOW + timedelta(hours=1))
    assert store.purge() == 1
    assert store.state("qr-old") is None and store.state("qr-new") == "reserved"
    store.close()
    # Opening purges too, by the store's clock, not the wall clock: the token expired at
    # NOW + 1 h is kept until a day after that, and gone after.
    assert (
        TokenStore(
            tmp_path / "t.sqlite", clock=TestingClock(NOW + timedelta(hours=24, minutes=59))
        ).state("qr-new")
        == "reserved"
    )
    assert (
        TokenStore(
            tmp_path / "t.sqlite", clock=TestingClock(NOW + timedelta(hours=25, minutes=1))
        ).state("qr-new")
        is None
    )


# --- rate limit, bearer, JSON --------------------------------------------------------------
def test_rate_limiter_per_client_with_refill() -> None:
    clock = [1000.0]
    limiter = RateLimiter(3, clock=lambda: clock[0])
    assert [limiter.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    wait = limiter.take("a")
    assert wait == pytest.approx(20.0)  # 3 per minute: one every 20 s
    assert limiter.take("b") == 0.0  # other addresses are not affected
    clock[0] += 20.0
    assert limiter.take("a") == 0.0
    assert limiter.take("a") > 0


def test_bearer_check() -> None:
    assert bearer_ok("Bearer k-1", "k-1")
    assert bearer_ok("bearer k-1", "k-1")
    assert not bearer_ok("Bearer k-2", "k-1")
    assert not bearer_ok("Bearer ", "k-1")
    assert not bearer_ok("Basic k-1", "k-1")
    assert not bearer_ok(None, "k-1")


def test_strict_json_never_quotes_the_input() -> None:
    for raw in (
        b'{"a": 1, "a": "SECRET-VALUE"}',
        b'{"a": SECRET-VALUE}',
        b"\xff SECRET-VALUE",
        b'{"a": NaN}',
    ):
        with pytest.raises(ValueError) as info:
            json_loads_strict(raw)
        assert "SECRET" not in str(info.value)


# --- the form ------------------------------------------------------------------------------
def test_parse_form_reads_every_field() -> None:
    codes = sorted(Q.criterion_codes)
    items = [(c, str(i % 5 + 1)) for i, c in enumerate(codes)]
    comment = ("Dòng một\r\n" * 100)[:1090]  # 990 characters once CRLF counts as one
    items += [("overall", "4"), ("comment", comment), ("office_id", "HN-4"), ("lang", "en")]
    got = parse_form(items, Q)
    assert got.errors == []
    assert got.answers == {c: i % 5 + 1 for i, c in enumerate(codes)} and len(got.answers) == 22
    assert (got.overall, got.office_id, got.lang) == (4, "HN-4", "en")
    assert got.comment == comment.replace("\r\n", "\n") and len(got.comment) <= 1000


@pytest.mark.parametrize(
    ("items", "field"),
    [
        ([("A1", "6")], "A1"),
        ([("A1", "0")], "A1"),
        ([("A1", "")], "A1"),
        ([("A1", "4.0")], "A1"),
        ([("A1", "4"), ("A1", "5")], "A1"),
        ([("A1", "4"), ("X9", "4")], "X9"),
        ([("A1", "4"), ("overall", "9")], "overall"),
        ([("A1", "4"), ("comment", "x" * 1001)], "comment"),
        ([("office_id", "HN-4")], "answers"),
    ],
)
def test_parse_form_errors(items: list[tuple[str, str]], field: str) -> None:
    assert field in [e["field"] for e in parse_form(items, Q).errors]


# --- the page ------------------------------------------------------------------------------
def test_survey_page_is_complete_and_self_contained() -> None:
    html = page.survey_page(Q, "TOKEN", "HN-00004", "vi", "NONCE")
    assert '<html lang="vi">' in html
    for code in Q.criterion_codes:
        assert len(re.findall(rf'name="{code}" value="[1-5]" required', html)) == 5
    assert len(re.findall(r'name="overall" value="[1-5]">', html)) == 5  # optional
    assert 'maxlength="1000"' in html and 'action="/s/TOKEN"' in html
    assert "Nơi ngồi chờ có đủ chỗ ngồi" in html and "Rất hài lòng" in html
    # no external assets: no src/href to anything but this page, no @import or url()
    assert not re.search(r"""(src|href)=["']?(https?:|//)""", html)
    assert "@import" not in html and "url(" not in html
    assert html.count('nonce="NONCE"') == 2  # the one style and the one script


def test_english_page_and_prefilled_answers() -> None:
    html = page.survey_page(
        Q,
        "T",
        "HN-1",
        "en",
        "N",
        values={"A1": 3},
        overall=5,
        comment="<b>hi</b>",
        banner=("unavailable_banner", {}),
    )
    assert '<html lang="en">' in html and "There are enough seats in the waiting area" in html
    assert 'name="A1" value="3" checked required' in html
    assert 'name="overall" value="5" checked>' in html
    assert "&lt;b&gt;hi&lt;/b&gt;</textarea>" in html  # escaped
    assert "please press “Submit” again" in html


@pytest.mark.parametrize(
    ("kind", "vi", "en"),
    [
        ("expired", "Mã QR đã hết hạn", "This QR code has expired"),
        ("used", "Phiếu khảo sát đã được gửi", "This survey was already submitted"),
        ("forged", "Mã QR không hợp lệ", "Invalid QR code"),
        ("thanks", "Cảm ơn ông/bà!", "Thank you!"),
    ],
)
def test_message_pages_in_both_languages(kind: str, vi: str, en: str) -> None:
    assert f">{vi}</h1>" in page.message_page(kind, "vi", "N")
    assert f">{en}</h1>" in page.message_page(kind, "en", "N")


HOSTILE = "</script><script>alert('x\"&')</script>"


def test_hostile_strings_are_escaped_on_every_page() -> None:
    """Office name and id, token, comment, banner values, questionnaire texts (also in the
    embedded JSON for the script) and message values: text, never markup."""
    q = Q.model_copy(update={"title": {"vi": HOSTILE, "en": HOSTILE}})
    survey = page.survey_page(
        q,
        "T" + HOSTILE,
        "HN-1" + HOSTILE,
        "vi",
        "N",
        comment=HOSTILE,
        banner=("invalid_banner", {"what": HOSTILE}),
        office_label=HOSTILE,
    )
    message = page.message_page("rate", "en", "N", s=HOSTILE)
    for html in (survey, message):
        assert "<script>alert" not in html and "'x" not in html
        assert html.count("<script") == 2 and html.count("</script>") == 2  # the page's own
        texts = re.search(r'<script type="application/json" id="i18n">(.*?)</script>', html)
        assert texts is not None and "<" not in texts.group(1)
    assert "&lt;/script&gt;&lt;script&gt;alert(&#39;x&#34;&amp;&#39;)" in survey
    # data-vars (single-quoted attribute): JSON without a quote or tag to break out with
    for attr in re.findall(r"data-vars='([^']*)'", survey + message):
        assert "<" not in attr and "&" not in attr
