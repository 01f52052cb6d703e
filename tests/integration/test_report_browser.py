"""The HTML ranking report as headless Chromium renders it (Debian's /usr/bin/chromium,
driven by Playwright): the chart is there and visible, each bar as wide as its score,
the Vietnamese text rendered, and nothing fetched from outside the file. Needs no Kafka
or ClickHouse."""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from pipelines.report import ReportRow, write_report
from tests.unit.test_report import REPORT  # the report the unit tests render

pytestmark = pytest.mark.integration

CHROMIUM = "/usr/bin/chromium"

COMMUNES = [
    "Phường Ba Đình",
    "Phường Ngọc Hà",
    "Phường Giảng Võ",
    "Phường Hoàn Kiếm",
    "Phường Cửa Nam",
    "Phường Văn Miếu - Quốc Tử Giám",
    "Phường Ô Chợ Dừa",
    "Xã Sóc Sơn",
    "Xã Đa Phúc",
    "Phường Hồng Hà",
    "Xã Minh Châu",
    "Phường Tây Hồ",
    "Xã Bất Bạt",
]
DEPARTMENTS = [
    "Sở Tư pháp",
    "Sở Xây dựng",
    "Sở Nông nghiệp và Môi trường",
    "Sở Tài chính",
    "Sở Y tế",
    "Sở Giáo dục và Đào tạo",
    'Sở <Thử> & "Kiểm tra"',
]


def sample_rows() -> list[ReportRow]:
    """13 communes (a tie at rank 3, one unranked) and 7 departments (one without
    intervals, one unranked without any score)."""
    rows = []
    scores = [91.2, 88.75, 82.35, 82.35, 79.1, 75.04, 70.6, 66.3, 61.85, 55.5, 48.2, 35.0]
    ranks = [1, 2, 3, 3, 5, 6, 7, 8, 9, 10, 11, 12]
    for i, (name, s, rank) in enumerate(zip(COMMUNES, scores, ranks, strict=False)):
        rows.append(
            ReportRow(
                "commune",
                f"{i:05d}",
                name,
                rank,
                12,
                s,
                s - 4.5 - i / 4,
                min(100.0, s + 3.9 + i / 5),
                max(1, rank - 2),
                min(12, rank + 3),
                120 + 7 * i,
                60 + 3 * i,
                15 * i,
                (i - 5) * 0.83 if i else None,
                "",
            )
        )
    rows.append(
        ReportRow(
            "commune",
            "00099",
            COMMUNES[-1],
            None,
            12,
            64.0,
            None,
            None,
            None,
            None,
            12,
            9,
            4,
            None,
            "sample too small: K_n + Q_n = 21 < 30",
        )
    )
    dept_scores = [86.4, 78.9, 72.15, 69.0, 58.45]
    for i, (name, s) in enumerate(zip(DEPARTMENTS, dept_scores, strict=False)):
        no_interval = i == 2
        rows.append(
            ReportRow(
                "department",
                f"SO-{i}",
                name,
                i + 1,
                6,
                s,
                None if no_interval else s - 6,
                None if no_interval else s + 5,
                None if no_interval else max(1, i),
                None if no_interval else i + 2,
                300 + i,
                150 + i,
                0,
                1.5 - i,
                "",
            )
        )
    rows.append(
        ReportRow(
            "department",
            "SO-9",
            DEPARTMENTS[-1],
            6,
            6,
            44.0,
            38.0,
            51.0,
            5,
            6,
            80,
            40,
            0,
            -2.25,
            "",
        )
    )
    rows.append(
        ReportRow(
            "department",
            "SO-X",
            "Sở Du lịch",
            None,
            6,
            None,
            None,
            None,
            None,
            None,
            0,
            0,
            0,
            None,
            "no channel present",
        )
    )
    return rows


def test_report_renders_in_headless_chromium(tmp_path: Path) -> None:
    rows = sample_rows()
    _csv, html_path = write_report(REPORT, rows, tmp_path / "out")
    ranked = {
        g: [r for r in rows if r.peer_group == g and r.rank is not None]
        for g in ("commune", "department")
    }
    shot = tmp_path / "ranking-2026-10.png"

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM)
        try:
            page = browser.new_page(viewport={"width": 1000, "height": 800})
            requested: list[str] = []
            page.on("request", lambda req: requested.append(req.url))
            page.goto(html_path.as_uri())
            page.screenshot(path=str(shot), full_page=True)

            assert requested == [html_path.as_uri()]  # self-contained: nothing else fetched
            title = page.locator("h1")
            assert title.is_visible()
            assert title.inner_text().startswith("Bảng xếp hạng chỉ số hài lòng")
            assert "tháng 10/2026" in title.inner_text()
            assert page.locator("h2").all_inner_texts() == ["Xã, phường", "Sở, ban, ngành"]

            for group, members in ranked.items():
                chart = page.locator(f'svg.chart[data-group="{group}"]')
                assert chart.is_visible()
                box = chart.bounding_box()
                assert box is not None and box["width"] > 900 and box["height"] > 100
                bars = chart.locator("rect.bar")
                assert bars.count() == len(members)
                widths = {}
                for i in range(bars.count()):
                    bar = bars.nth(i)
                    assert bar.is_visible()
                    bb = bar.bounding_box()
                    assert bb is not None and bb["width"] > 0
                    widths[bar.get_attribute("data-unit")] = bb["width"]
                scores = {r.unit_code: r.score for r in members}
                assert widths.keys() == scores.keys()
                # width ∝ score: the scale of the best bar predicts every other within 1 px
                best = members[0]
                assert best.score is not None
                px_per_point = widths[best.unit_code] / best.score
                for code, s in scores.items():
                    assert s is not None
                    assert abs(widths[code] - s * px_per_point) <= 1, code
                with_interval = [r for r in members if r.score_lo is not None]
                assert chart.locator("line.interval").count() == len(with_interval)

            # the unit name with markup characters is shown as text, not parsed as tags
            odd = 'Sở <Thử> & "Kiểm tra"'
            assert (
                page.locator('table.ranking tr[data-unit="SO-9"] td').nth(1).inner_text()
                == f"{odd} SO-9"
            )
            assert (
                page.locator('svg.chart g.unit[data-unit="SO-9"] text.name').text_content() == odd
            )
            assert "Chưa đủ số phiếu tối thiểu" in page.locator("table.unranked").first.inner_text()
        finally:
            browser.close()

    assert shot.exists() and shot.stat().st_size > 20_000
    print(f"\nscreenshot: {shot}")
