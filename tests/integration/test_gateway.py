"""The QR gateway on the real Kafka broker, as citizens use it: a citizen in headless
Chromium (360 px wide) fills the survey and the event in Kafka is exactly what they
clicked; the page works without JS and names the office; forged, expired, reused,
wrong-office and malformed submissions are refused with their status and never reach
Kafka; racing submissions of one token count once. Issuing, limits and the OpenAPI
document: ``test_gateway_limits.py``."""

from __future__ import annotations

import json
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import sync_playwright

from hailong import qrtoken as tokens
from hailong.clock import SYSTEM
from hailong.questionnaire import questionnaires
from hailong.settings import Settings
from producers.gateway.app import create_app
from tests.integration.gateway_site import OFFICE, gateway_settings, issue, qr_events, submit
from tests.serving import request, serve

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
Q = questionnaires()["sipas-5/1"]
CODES = [c.code for a in Q.aspects for c in a.criteria]


def test_citizen_fills_the_survey_in_chromium(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path)
    clicked = {code: i % 5 + 1 for i, code in enumerate(CODES)}
    comment = "Cán bộ nhiệt tình, hướng dẫn rõ ràng.\nCảm ơn!"
    with serve(create_app(s), s.gateway_port) as base:
        issued = issue(base, s)
        assert issued["url"] == f"{base}/s/{issued['token']}"
        fetched: list[str] = []
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            try:
                page = browser.new_page(viewport={"width": 360, "height": 740})
                page.on("request", lambda r: fetched.append(r.url))
                first = page.goto(issued["url"])
                assert first is not None and first.status == 200
                assert page.locator("html").get_attribute("lang") == "vi"
                assert page.locator("h1").inner_text() == Q.title["vi"]
                # English, then half of the answers, then back to Vietnamese
                page.click("#lang")
                assert page.locator("html").get_attribute("lang") == "en"
                assert page.locator("h1").inner_text() == Q.title["en"]
                assert (
                    page.locator("#q-A1 legend").inner_text()
                    == "A1. There are enough seats in the waiting area"
                )
                for code in CODES[:11]:
                    page.click(f"#q-{code} .opt:nth-child({clicked[code]}) .dot")
                page.click("#lang")
                assert page.locator("h1").inner_text() == Q.title["vi"]
                for code in CODES[11:]:
                    page.click(f"#q-{code} .opt:nth-child({clicked[code]}) .dot")
                page.click("#q-overall .opt:nth-child(4) .dot")
                page.fill("#comment", comment)
                assert page.locator("#progress").inner_text() == "Đã trả lời 22/22 tiêu chí"
                # the language switch kept every answer
                for code in CODES:
                    assert page.locator(f"input[name={code}]:checked").get_attribute(
                        "value"
                    ) == str(clicked[code])
                # fits 360 px: nothing wider than the screen
                assert page.evaluate("document.documentElement.scrollWidth") <= 360
                shot = tmp_path / "survey-360.png"
                page.screenshot(path=str(shot), full_page=True)
                assert shot.stat().st_size > 10_000
                page.click("button[type=submit]")
                page.wait_for_url("**/thanks?lang=vi")
                assert page.locator("h1").inner_text() == "Cảm ơn ông/bà!"
                page.screenshot(path=str(tmp_path / "thanks.png"))
                assert (tmp_path / "thanks.png").exists()
                # the same link again: used, said so, with 409
                again = page.goto(issued["url"])
                assert again is not None and again.status == 409
                assert "Phiếu khảo sát đã được gửi" in page.locator("h1").inner_text()
            finally:
                browser.close()
        assert fetched and all(url.startswith(base + "/") for url in fetched), fetched
    (event,) = qr_events(s)
    assert event.token_id == issued["token_id"] and event.office_id == OFFICE
    assert event.answers == clicked
    assert event.overall == 4 and event.comment == comment
    assert event.questionnaire == "sipas-5/1"
    assert abs(event.submitted_at - SYSTEM.now()) < timedelta(minutes=2)


def test_the_page_works_as_a_plain_form_without_js(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path)
    with serve(create_app(s), s.gateway_port) as base:
        issued = issue(base, s)
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM)
            try:
                page = browser.new_page(
                    viewport={"width": 360, "height": 740}, java_script_enabled=False
                )
                page.goto(issued["url"])
                page.click("#lang")  # without JS: a link that reloads in English
                page.wait_for_url("**?lang=en")
                assert page.locator("h1").inner_text() == Q.title["en"]
                page.click("#q-A1 .opt:nth-child(2) .dot")
                page.click("button[type=submit]")  # 21 unanswered: the browser refuses
                page.wait_for_timeout(500)
                assert "/thanks" not in page.url
                for code in CODES[1:]:
                    page.click(f"#q-{code} .opt:nth-child(5) .dot")
                page.click("button[type=submit]")
                page.wait_for_url("**/thanks?lang=en")
                assert page.locator("h1").inner_text() == "Thank you!"
            finally:
                browser.close()
    (event,) = qr_events(s)
    assert event.answers == {"A1": 2, **{code: 5 for code in CODES[1:]}}
    assert event.overall is None and event.comment is None


def test_refused_submissions_never_reach_kafka(settings: Settings, tmp_path: Path) -> None:
    s = gateway_settings(settings, tmp_path, gateway_rate_per_minute=10_000)
    secret = s.key("gateway_secret")
    now = SYSTEM.now()  # the gateway under test runs on the system clock
    with serve(create_app(s), s.gateway_port) as base:
        good = issue(base, s)
        token = good["token"]
        parts = token.split("~")
        sig = parts[5]
        flipped = sig[:10] + ("A" if sig[10] != "A" else "B") + sig[11:]
        forged = {
            "signature": "~".join([*parts[:5], flipped]),
            "office": "~".join([parts[0], "HN-00005", *parts[2:]]),
            "expiry": "~".join([*parts[:4], str(int(parts[4]) + 10**6), sig]),
            "other key": tokens.issue(
                "not the gateway's key", OFFICE, timedelta(hours=1), SYSTEM.now()
            ).text,
        }
        for what, text in forged.items():
            office = "HN-00005" if what == "office" else OFFICE
            reply = submit(base, text, office)
            assert reply.status == 403, (what, reply.text)
            assert reply.headers["content-type"] == "application/problem+json"
            assert reply.json()["type"].endswith("token-forged")
            assert request("GET", f"{base}/s/{text}").status == 403
        expired = tokens.sign(
            secret, OFFICE, "qr-expired-1", now - timedelta(hours=73), now - timedelta(hours=1)
        ).text
        assert submit(base, expired).status == 410
        page = request("GET", f"{base}/s/{expired}")
        assert page.status == 410 and "Mã QR đã hết hạn" in page.text
        assert (
            request("GET", f"{base}/s/{expired}?lang=en").text.count("This QR code has expired")
            >= 1
        )
        short = issue(base, s, ttl_hours=0.0005)  # 1.8 s
        time.sleep(2.5)
        assert submit(base, short["token"]).status == 410
        for text in ("hello", "v1~HN-00004~qr-1~1~2~short", "v1~" + "x~" * 40):
            assert submit(base, text).status == 400
            assert request("GET", f"{base}/s/{text}").status == 400
        mangled = request("GET", f"{base}/s/{token[:30]}/x/y")  # a broken link: a page too
        assert mangled.status == 404 and "Mã QR không hợp lệ" in mangled.text
        overlong = request("GET", f"{base}/s/{token * 3}")
        assert overlong.status == 400 and "Mã QR không hợp lệ" in overlong.text
        # the right token with the wrong office, and malformed bodies
        wrong = submit(base, token, "HN-00005")
        assert wrong.status == 400 and wrong.json()["type"].endswith("office-mismatch")
        bad_bodies: list[tuple[bytes | dict[str, Any], int]] = [
            (b"{not json", 400),
            ({"token": token, "office_id": OFFICE}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {}}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {"X9": 4}}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {"A1": 6}}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {"A1": "5"}}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {"A1": 5}, "overall": 0}, 422),
            ({"token": token, "office_id": OFFICE, "answers": {"A1": 5}, "extra": 1}, 422),
            (
                {"token": token, "office_id": OFFICE, "answers": {"A1": 5}, "comment": "x" * 1001},
                422,
            ),
            (
                {
                    "token": token,
                    "office_id": OFFICE,
                    "answers": {"A1": 5},
                    "questionnaire": "sipas-9/9",
                },
                422,
            ),
        ]
        for body, status in bad_bodies:
            reply = (
                request(
                    "POST",
                    f"{base}/api/v1/surveys",
                    body,
                    headers={"Content-Type": "application/json"},
                )
                if isinstance(body, bytes)
                else request("POST", f"{base}/api/v1/surveys", json_body=body)
            )
            assert reply.status == status, (body, reply.text)
            assert reply.json()["status"] == status and "input" not in reply.text
        unknown = request(
            "POST",
            f"{base}/api/v1/surveys",
            json_body={"token": token, "office_id": OFFICE, "answers": {"X9": 4}},
        ).json()
        assert "X9" in json.dumps(unknown["errors"])
        # a form with the wrong office or bad answers: readable pages, nothing published
        form = {"Content-Type": "application/x-www-form-urlencoded"}
        assert (
            request("POST", f"{base}/s/{token}", b"office_id=HN-00005&A1=4", headers=form).status
            == 400
        )
        invalid = request(
            "POST", f"{base}/s/{token}", b"office_id=HN-00004&A1=9&S1=5", headers=form
        )
        assert invalid.status == 422 and "kiểm tra lại: A1" in invalid.text
        assert 'name="S1" value="5" checked' in invalid.text  # the answers are kept
        assert (
            request(
                "POST", f"{base}/s/{forged['signature']}", b"office_id=HN-00004&A1=4", headers=form
            ).status
            == 403
        )
        # the one legitimate submission, then every reuse
        accepted = submit(base, token, answers={"A1": 5, "P3": 2}, overall=3)
        assert accepted.status == 201, accepted.text
        assert accepted.json()["token_id"] == good["token_id"]
        for reuse in (submit(base, token), submit(base, token, answers={"F4": 1})):
            assert reuse.status == 409 and reuse.json()["type"].endswith("token-used")
        used_form = request("POST", f"{base}/s/{token}", b"office_id=HN-00004&A1=4", headers=form)
        assert used_form.status == 409 and "đã được gửi" in used_form.text
        assert request("GET", f"{base}/s/{token}").status == 409
    (event,) = qr_events(s)
    assert str(event.event_id) == accepted.json()["event_id"]
    assert event.answers == {"A1": 5, "P3": 2} and event.overall == 3
    assert event.token_id == good["token_id"]


def test_racing_submissions_of_one_token_count_once(settings: Settings, tmp_path: Path) -> None:
    from concurrent.futures import ThreadPoolExecutor

    s = gateway_settings(settings, tmp_path)
    with serve(create_app(s), s.gateway_port) as base:
        token = issue(base, s)["token"]
        with ThreadPoolExecutor(8) as pool:
            statuses = sorted(
                pool.map(
                    lambda v: submit(base, token, answers={"A1": v}).status,
                    [1, 2, 3, 4, 5, 1, 2, 3],
                )
            )
    assert statuses == [201] + [409] * 7
    assert len(qr_events(s)) == 1


def test_the_survey_page_names_the_office(settings: Settings, tmp_path: Path) -> None:
    """Issue 15: the citizen sees which office they rate, by its name in the registry."""
    from datetime import date

    from hailong.registry import Office, Unit
    from warehouse.client import Warehouse
    from warehouse.registry import load_registry

    s = gateway_settings(settings, tmp_path)
    unit = Unit("99999", "Phường Thử", "Phường", "commune", "01", date(2025, 7, 1), None)
    with Warehouse(s) as wh:
        load_registry(wh, [unit], [Office(OFFICE, "Bộ phận Một cửa <Phường> Thử", unit)])
    with serve(create_app(s), s.gateway_port) as base:
        token = issue(base, s)["token"]
        page = request("GET", f"{base}/s/{token}")
        assert "Cơ quan: Bộ phận Một cửa &lt;Phường&gt; Thử (HN-00004)" in page.text
        english = request("GET", f"{base}/s/{token}?lang=en")
        assert "Office: Bộ phận Một cửa &lt;Phường&gt; Thử (HN-00004)" in english.text
