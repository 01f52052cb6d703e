"""Who sees what on the dashboard, the read API and the public portal, over HTTP against
the real ClickHouse (issue 15): each role gets its pages and 403 outside its scope; no
session, no page; a forged or foreign form is refused; the public portal shows no staff
data and nothing unpublished; five wrong passwords lock an account."""

from __future__ import annotations

import re
import urllib.parse

import pytest

from hailong.settings import Settings
from tests.integration.dashboard_site import COMMENT, PASSWORD, Site, site
from tests.serving import Reply, request

pytestmark = pytest.mark.integration


def login(s: Site, name: str, password: str = PASSWORD) -> tuple[Reply, str]:
    body = urllib.parse.urlencode({"name": name, "password": password, "next": "/"}).encode()
    reply = request(
        "POST",
        f"{s.base}/login",
        body,
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )
    cookie = reply.headers.get("set-cookie", "").split(";", 1)[0]
    return reply, cookie


def get(s: Site, path: str, cookie: str = "", token: str = "") -> Reply:
    headers = {"Cookie": cookie} if cookie else {}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return request("GET", f"{s.base}{path}", headers=headers)


def test_each_role_its_pages_and_403_elsewhere(settings: Settings) -> None:
    with site(settings) as s:
        expect = {
            "city": {
                "/city": 200,
                "/unit/A": 200,
                "/unit/B": 200,
                "/office/HN-A1": 200,
                "/office/HN-B1": 200,
                "/alerts": 200,
                "/staff/S-2?office=HN-A1": 200,
            },
            "chair.a": {
                "/city": 403,
                "/unit/A": 200,
                "/unit/B": 403,
                "/office/HN-A2": 200,
                "/office/HN-B1": 403,
                "/staff/S-2?office=HN-A1": 200,
                "/office/HN-B1/live.json": 403,
            },
            "head.a1": {
                "/city": 403,
                "/unit/A": 403,
                "/office/HN-A1": 200,
                "/office/HN-A2": 403,
                "/office/HN-A2/live.json": 403,
                "/staff/S-1?office=HN-A1": 200,
                "/staff/S-1?office=HN-A2": 403,
                # the read API with the session: the same scope as the pages
                "/api/v1/offices/HN-A1": 200,
                "/api/v1/offices/HN-A2": 403,
            },
            "staff.s1": {
                "/staff/S-1": 200,
                "/staff/S-2": 403,
                "/staff/S-2?office=HN-A1": 403,
                "/office/HN-A1": 403,
                "/alerts": 403,
                "/city": 403,
            },
            "viewer.b": {
                "/unit/B": 200,
                "/office/HN-B1": 200,
                "/unit/A": 403,
                "/office/HN-A1": 403,
                "/staff/S-1?office=HN-A1": 403,
            },
        }
        for name, pages in expect.items():
            reply, cookie = login(s, name)
            assert reply.status == 303 and cookie.startswith("hailong_session="), reply.text
            for path, status in pages.items():
                got = get(s, path, cookie)
                assert got.status == status, (name, path, got.status)
        # The office head sees staff scores on their page; the viewer sees none.
        _, head = login(s, "head.a1")
        listed = get(s, "/api/v1/offices", head).json()
        assert [r["office_id"] for r in listed["rows"]] == ["HN-A1"] and listed["total"] == 1
        assert get(s, "/api/v1/alerts", head).json()["rows"] == []  # A2's alert is not A1's
        page = get(s, "/office/HN-A1", head).text
        assert "S-2" in page and COMMENT in page and "Q1" in page
        _, viewer = login(s, "viewer.b")
        assert "S-" not in re.sub(r"<[^>]+>", " ", get(s, "/office/HN-B1", viewer).text)
        # Vietnamese first; English with the toggle (a cookie).
        _, city = login(s, "city")
        assert "Bảng xếp hạng" in get(s, "/city", city).text
        toggled = request(
            "GET", f"{s.base}/lang/en", headers={"Cookie": city, "Referer": f"{s.base}/city"}
        )
        assert toggled.status == 303 and toggled.headers["location"] == "/city"
        lang = toggled.headers["set-cookie"].split(";", 1)[0]
        english = get(s, "/city", f"{city}; {lang}").text
        assert "League table" in english and "Bảng xếp hạng" not in english
        # No session: every page sends to the login; a forged cookie is no session.
        assert get(s, "/office/HN-A1").status == 303
        assert get(s, "/office/HN-A1", "hailong_session=forged").status == 303
        # Pages say what they allow: a content security policy, no framing.
        reply = get(s, "/office/HN-A1", head)
        assert "script-src 'self'" in reply.headers["content-security-policy"]
        assert reply.headers["x-frame-options"] == "DENY"


def test_the_read_api_keeps_each_token_to_its_unit(settings: Settings) -> None:
    with site(settings) as s:
        assert get(s, "/api/v1/offices").status == 401
        assert get(s, "/api/v1/offices", token="forged").status == 401  # noqa: S106
        a = get(s, "/api/v1/offices", token=s.tokens["A"]).json()
        assert {r["office_id"] for r in a["rows"]} == {"HN-A1", "HN-A2"} and a["total"] == 2
        assert get(s, "/api/v1/offices/HN-B1", token=s.tokens["A"]).status == 403
        assert get(s, "/api/v1/offices/HN-B1", token=s.tokens["B"]).status == 200
        assert get(s, "/api/v1/offices/HN-XX", token=s.tokens["city"]).status == 404
        city = get(s, "/api/v1/offices?limit=2&offset=1", token=s.tokens["city"]).json()
        assert city["total"] == 3 and len(city["rows"]) == 2 and city["offset"] == 1
        csv_reply = get(s, f"/api/v1/rankings/{s.last_month}?format=csv", token=s.tokens["B"])
        lines = csv_reply.text.strip().splitlines()
        assert lines[0].startswith("period,peer_group,unit_code") and len(lines) == 2
        assert ",B," in lines[1] and csv_reply.headers["x-total-count"] == "1"
        alerts = get(s, "/api/v1/alerts", token=s.tokens["A"]).json()
        assert [r["office_id"] for r in alerts["rows"]] == ["HN-A2"]
        assert get(s, "/api/v1/alerts", token=s.tokens["B"]).json()["rows"] == []
        assert get(s, "/api/v1/offices?limit=100000", token=s.tokens["city"]).status == 422
        spec = get(s, "/api/v1/openapi.json").json()
        assert "/api/v1/rankings/{period}" in spec["paths"]


def test_the_public_portal_shows_published_rankings_and_no_staff(settings: Settings) -> None:
    with site(settings) as s:
        page = get(s, "/public")
        assert page.status == 200 and s.last_month in page.text and "Xã A" in page.text
        assert "S-1" not in page.text and COMMENT not in page.text
        data = get(s, f"/public/{s.last_month}.json").json()
        assert data["period"] == s.last_month and len(data["input_checksum"][0]) == 64
        assert {r["unit_code"] for r in data["rows"]} == {"A", "B"}
        assert not any("staff" in key for r in data["rows"] for key in r)
        csv_text = get(s, f"/public/{s.last_month}.csv").text
        assert csv_text.startswith("period,") and "S-1" not in csv_text
        # This month is a preview: not published, not on the portal.
        assert get(s, f"/public/{s.this_month}.json").status == 404
        assert get(s, f"/public/{s.this_month}").status == 404
        assert get(s, "/public/methodology").status == 200


def test_forms_need_their_session_token_and_logins_lock(settings: Settings) -> None:
    with site(settings) as s:
        _, cookie = login(s, "chair.a")
        form = {"Cookie": cookie, "Content-Type": "application/x-www-form-urlencoded"}
        no_token = request("POST", f"{s.base}/alerts/{s.alert_id}/ack", b"comment=x", headers=form)
        assert no_token.status == 403
        page = get(s, "/alerts", cookie).text
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', page)
        assert csrf is not None
        body = urllib.parse.urlencode({"csrf": csrf.group(1), "comment": "on it"}).encode()
        foreign = request(
            "POST",
            f"{s.base}/alerts/{s.alert_id}/ack",
            body,
            headers={**form, "Origin": "https://evil.example"},
        )
        assert foreign.status == 403
        done = request("POST", f"{s.base}/alerts/{s.alert_id}/ack", body, headers=form)
        assert done.status == 303
        assert "chair.a" in get(s, "/alerts", cookie).text  # acknowledged by
        # The viewer of B may not acknowledge, even with its own token.
        _, viewer = login(s, "viewer.b")
        vpage = get(s, "/alerts", viewer).text
        assert "Xác nhận đã biết</button>" not in vpage
        # Five wrong passwords lock the account, the right one included.
        for _ in range(5):
            assert login(s, "head.a1", "not the password")[0].status == 401
        locked, cookie = login(s, "head.a1")
        assert locked.status == 429 and not cookie.startswith("hailong_session")
