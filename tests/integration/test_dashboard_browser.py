"""The dashboard in a real browser (Debian's chromium, driven by Playwright), issue 15:
every page for each role at 360 px and 1280 px, screenshots kept in
``<stack_dir>/screenshots/`` (looked at by a person before a change is called done),
axe-core (npm) on each with no serious or critical violation, no content-security
errors, 403 where a role has no business; and a press published to Kafka appearing on
its office's page without a reload."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from hailong.kafka import SIMULATOR, deliver, make_producer
from hailong.settings import Settings
from infra.worker import running_worker
from tests.integration.dashboard_site import COMMENT, PASSWORD, Site, site

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"
WIDTHS = (360, 1280)
PAGES = {
    "city": ["/city", "/unit/A", "/office/HN-A1", "/alerts", "/staff/S-2?office=HN-A1"],
    "chair.a": ["/unit/A", "/office/HN-A2", "/alerts"],
    "head.a1": ["/office/HN-A1", "/alerts", "/staff/S-1?office=HN-A1"],
    "staff.s1": ["/staff/S-1"],
    "viewer.b": ["/unit/B", "/office/HN-B1", "/alerts"],
}
FORBIDDEN = {
    "head.a1": ["/office/HN-A2", "/unit/A", "/city"],
    "staff.s1": ["/staff/S-2?office=HN-A1", "/office/HN-A1"],
    "viewer.b": ["/office/HN-A1", "/staff/S-1?office=HN-A1"],
}
PUBLIC = ["/public", "/public/methodology", "/login"]


def axe_source(settings: Settings) -> str:
    path = settings.stack_dir / "npm" / "node_modules" / "axe-core" / "axe.min.js"
    if not path.exists():  # a clone's own stack dir: infra/install puts it there
        path = (
            Path(__file__).parents[2]
            / ".stack"
            / "npm"
            / "node_modules"
            / "axe-core"
            / "axe.min.js"
        )
    return path.read_text()


def check_accessible(page: Page, axe: str, where: str) -> None:
    """axe-core in the page (evaluated through the browser's protocol: the page's CSP
    forbids injected scripts, as it should)."""
    page.evaluate(axe + "\n;undefined")
    violations = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact, nodes: v.nodes.length,"
        " target: v.nodes[0] && v.nodes[0].target.join(' ')}))"
    )
    bad = [v for v in violations if v["impact"] in ("serious", "critical")]
    assert not bad, (where, bad)


def assert_fits(page: Page, where: object) -> None:
    """Nothing wider than the screen but the tables' own scroll boxes (a phone's 360 px
    page that scrolls sideways is broken)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 1, (where, overflow)


@pytest.fixture
def browser() -> Iterator[Browser]:
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM)
        try:
            yield b
        finally:
            b.close()


def log_in(browser: Browser, s: Site, name: str, width: int) -> tuple[Any, Page, list[str]]:
    context = browser.new_context(viewport={"width": width, "height": 900})
    page = context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.goto(f"{s.base}/login")
    page.fill("#name", name)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    assert "/login" not in page.url, (name, page.url)
    return context, page, errors


def test_every_page_for_every_role_at_two_widths(settings: Settings, browser: Browser) -> None:
    shots = settings.stack_dir / "screenshots"
    shutil.rmtree(shots, ignore_errors=True)
    shots.mkdir(parents=True)
    axe = axe_source(settings)
    with site(settings) as s:
        for width in WIDTHS:
            for name, paths in PAGES.items():
                context, page, errors = log_in(browser, s, name, width)
                for path in paths:
                    reply = page.goto(f"{s.base}{path}")
                    assert reply is not None and reply.status == 200, (name, path)
                    page.wait_for_load_state("networkidle")
                    shot = shots / f"{width}-{name}-{path.strip('/').replace('/', '_')}.png"
                    page.screenshot(path=str(shot), full_page=True)
                    check_accessible(page, axe, f"{name} {path} at {width}")
                    assert_fits(page, (name, path, width))
                for path in FORBIDDEN.get(name, []):
                    reply = page.goto(f"{s.base}{path}")
                    assert reply is not None and reply.status == 403, (name, path)
                assert not [e for e in errors if "Content Security Policy" in e], errors
                context.close()
            context = browser.new_context(viewport={"width": width, "height": 900})
            page = context.new_page()
            for path in [*PUBLIC, f"/public/{s.last_month}"]:
                reply = page.goto(f"{s.base}{path}")
                assert reply is not None and reply.status == 200, path
                text = page.inner_text("body")
                assert "S-1" not in text and "S-2" not in text and COMMENT not in text
                slug = path.strip("/").replace("/", "_")
                page.screenshot(path=str(shots / f"{width}-public-{slug}.png"), full_page=True)
                check_accessible(page, axe, f"public {path} at {width}")
                assert_fits(page, ("public", path, width))
            context.close()
        # The office page draws its chart from plotly's bundled script, served here.
        context, page, _ = log_in(browser, s, "head.a1", 1280)
        page.goto(f"{s.base}/office/HN-A1")
        page.wait_for_selector("#chart-hourly .main-svg", timeout=15_000)
        context.close()
    print(f"\nscreenshots: {shots} ({len(list(shots.glob('*.png')))} pages)")


def test_a_press_appears_on_its_office_page_without_a_reload(
    settings: Settings, browser: Browser, tmp_path: Path
) -> None:
    with site(settings) as s, running_worker(settings, tmp_path / "worker.log"):
        context, page, _ = log_in(browser, s, "head.a1", 1280)
        page.goto(f"{s.base}/office/HN-A1")
        cell = 'tr[data-window="1h"] [data-field="k_n"]'
        before = int(page.inner_text(cell))
        page.evaluate("window.__sameDocument = true")
        press = {
            "schema": "kiosk_rating/1",
            "event_id": str(uuid.uuid4()),
            "office_id": "HN-A1",
            "device_id": "K-A1",
            "counter_id": "Q1",
            "occurred_at": datetime.now(UTC).isoformat(),
            "scale": 5,
            "value": 5,
        }
        sent_at = datetime.now(UTC)
        deliver(
            make_producer(settings, SIMULATOR),
            settings.topics.kiosk,
            [(b"HN-A1", json.dumps(press).encode(), [])],
        )
        # (polled from here: the page's CSP rightly forbids the eval wait_for_function uses)
        deadline = time.monotonic() + 60
        while int(page.inner_text(cell)) != before + 1:
            assert time.monotonic() < deadline, "the press never showed on the page"
            page.wait_for_timeout(200)
        seen_after = (datetime.now(UTC) - sent_at).total_seconds()
        assert page.evaluate("window.__sameDocument === true")  # no reload happened
        assert page.inner_text("[data-read-age]") in {"0", "1", "2"}
        context.close()
    print(
        f"\na press published to Kafka showed on its office page after {seen_after:.1f} s "
        "(the page polls every second here, every 5 s by default)"
    )
