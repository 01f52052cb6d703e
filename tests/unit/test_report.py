"""The ranking report's files (pipelines/report.py), read back: the CSV with the csv
module, the HTML with the standard library's parser. No services."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path

import pytest

from pipelines.report import (
    CSV_COLUMNS,
    Report,
    ReportRow,
    period_label,
    reason_text,
    report_title,
    weights_text,
    write_report,
)

REPORT = Report(
    period="2026-10",
    title=report_title("2026-10"),
    methodology_version="1",
    weights="QR 0.50 · kiosk 0.35 · camera 0.15",
    min_sample=30,
    input_checksum="0123abcd" * 8,
    generated_at=datetime(2026, 10, 31, 19, 0, tzinfo=UTC),
)


def row(
    group: str,
    code: str,
    name: str,
    rank: int | None,
    n_ranked: int,
    score: float | None,
    lo: float | None = None,
    hi: float | None = None,
    rank_lo: int | None = None,
    rank_hi: int | None = None,
    trend: float | None = None,
    reason: str = "",
    k_n: int = 40,
    q_n: int = 20,
    c_n: int = 5,
) -> ReportRow:
    return ReportRow(
        group,
        code,
        name,
        rank,
        n_ranked,
        score,
        lo,
        hi,
        rank_lo,
        rank_hi,
        k_n,
        q_n,
        c_n,
        trend,
        reason,
    )


# Given out of order on purpose: the report orders them.
ROWS = [
    row("department", "SO-TP", "Sở Tư pháp", 1, 1, 77.0, 70.5, 82.25, 1, 1),
    row(
        "commune",
        "00099",
        "Xã Hòa Xá",
        None,
        3,
        64.0,
        k_n=8,
        q_n=4,
        c_n=0,
        reason="sample too small: K_n + Q_n = 12 < 30",
    ),
    row(
        "commune",
        "00008",
        'Phường <A&B> "Ngọc Hà"',
        2,
        3,
        82.345,
        None,
        None,
        None,
        None,
        trend=-0.004,
    ),
    row(
        "commune",
        "00004",
        "Phường Ba Đình",
        1,
        3,
        85.27,
        70.0,
        90.0,
        1,
        2,
        trend=1.2,
        k_n=120,
        q_n=60,
        c_n=33,
    ),
    row("commune", "00025", "Phường Giảng Võ", 2, 3, 82.35, 75.0, 88.5, 1, 3, trend=-0.5),
]


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return write_report(REPORT, ROWS, tmp_path / "reports")


def test_file_names(files: tuple[Path, Path]) -> None:
    csv_path, html_path = files
    assert (csv_path.name, html_path.name) == ("ranking-2026-10.csv", "ranking-2026-10.html")
    assert csv_path.parent == html_path.parent


def test_csv_round_trip(files: tuple[Path, Path]) -> None:
    csv_path, _ = files
    assert csv_path.read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel reads UTF-8
    with csv_path.open(encoding="utf-8-sig", newline="") as f:
        header, *body = list(csv.reader(f))
    assert header == list(CSV_COLUMNS)
    assert header[:3] == ["Kỳ", "Nhóm so sánh", "Hạng"]
    tail = ["1", "0123abcd" * 8]
    # by peer group, rank order, ties by unit code, unranked last; 2 decimals half up
    # one row per line, the cells separated by "|" (the CSV itself uses commas)
    assert body == [
        [*line.split("|"), *tail]
        for line in (
            "2026-10|Xã, phường|1|3|1|2|00004|Phường Ba Đình|85.27|70.00|90.00|1.20|120|60|33|",
            '2026-10|Xã, phường|2|3|||00008|Phường <A&B> "Ngọc Hà"|82.35|||0.00|40|20|5|',
            "2026-10|Xã, phường|2|3|1|3|00025|Phường Giảng Võ|82.35|75.00|88.50|-0.50|40|20|5|",
            "2026-10|Xã, phường||3|||00099|Xã Hòa Xá|64.00||||8|4|0|"
            "Chưa đủ số phiếu tối thiểu: K_n + Q_n = 12 < 30",
            "2026-10|Sở, ban, ngành|1|1|1|1|SO-TP|Sở Tư pháp|77.00|70.50|82.25||40|20|5|",
        )
    ]


class Elements(HTMLParser):
    """Every start tag with its attributes and the chart (svg data-group) it is in."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None], str | None]] = []
        self.group: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg":
            self.group = a.get("data-group")
        self.tags.append((tag, a, self.group))

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg":
            self.group = None

    def find(self, tag: str, cls: str) -> list[tuple[dict[str, str | None], str | None]]:
        return [
            (a, g) for t, a, g in self.tags if t == tag and cls in (a.get("class") or "").split()
        ]


def parsed(html_path: Path) -> Elements:
    p = Elements()
    p.feed(html_path.read_text(encoding="utf-8"))
    return p


def test_one_bar_per_ranked_unit_per_group(files: tuple[Path, Path]) -> None:
    p = parsed(files[1])
    assert [a["data-group"] for a, _ in p.find("svg", "chart")] == ["commune", "department"]
    bars = [(g, a["data-unit"]) for a, g in p.find("rect", "bar")]
    assert bars == [
        ("commune", "00004"),
        ("commune", "00008"),
        ("commune", "00025"),
        ("department", "SO-TP"),
    ]  # the unranked 00099 has no bar


def test_bar_and_whisker_coordinates(files: tuple[Path, Path]) -> None:
    """x = 300 + 560 · score / 100 (PLOT_LEFT, PLOT_WIDTH); Ba Đình: 85.27 in [70, 90]."""
    p = parsed(files[1])
    bar = next(a for a, _ in p.find("rect", "bar") if a["data-unit"] == "00004")
    assert (bar["x"], bar["width"], bar["height"]) == ("300", "477.51", "16")  # 560 · .8527
    whiskers = {a["data-unit"]: a for a, _ in p.find("line", "interval")}
    assert set(whiskers) == {"00004", "00025", "SO-TP"}  # 00008 has no interval
    ba_dinh = whiskers["00004"]
    assert (ba_dinh["x1"], ba_dinh["x2"]) == ("692.00", "804.00")  # 300 + 392, 300 + 504
    assert ba_dinh["y1"] == ba_dinh["y2"] == "37.00"  # middle of the first row's bar
    assert (whiskers["SO-TP"]["x1"], whiskers["SO-TP"]["x2"]) == ("694.80", "760.60")


def test_html_escapes_every_name(files: tuple[Path, Path]) -> None:
    html = files[1].read_text(encoding="utf-8")
    assert "<A&B>" not in html
    assert "Phường &lt;A&amp;B&gt; &#34;Ngọc Hà&#34;" in html
    assert "a" not in {t for t, _, _ in parsed(files[1]).tags}  # no <A&B> element parsed


HOSTILE = "<script>alert('x\"&')</script>"


def test_html_escapes_every_field(tmp_path: Path) -> None:
    """Header fields, peer group, unit code and name, reason: text, never markup."""
    report = Report(
        period="2026",
        title=HOSTILE,
        methodology_version=HOSTILE,
        weights=HOSTILE,
        min_sample=30,
        input_checksum=HOSTILE,
        generated_at=datetime(2026, 12, 31, 17, 0, tzinfo=UTC),
    )
    rows = [
        row(HOSTILE, "A" + HOSTILE, "B" + HOSTILE, 1, 1, 50.0, 40.0, 60.0, 1, 1, trend=1.0),
        row(HOSTILE, "C" + HOSTILE, "D" + HOSTILE, None, 1, None, reason=HOSTILE),
    ]
    _, html_path = write_report(report, rows, tmp_path)
    html = html_path.read_text(encoding="utf-8")
    assert "<script" not in html and "'x" not in html
    assert "&lt;script&gt;alert(&#39;x&#34;&amp;&#39;)&lt;/script&gt;" in html
    p = parsed(html_path)
    assert [a["data-group"] for a, _ in p.find("svg", "chart")] == [HOSTILE]
    assert [a["data-unit"] for a, _ in p.find("rect", "bar")] == ["A" + HOSTILE]


def test_html_is_vietnamese_and_self_contained(files: tuple[Path, Path]) -> None:
    raw = files[1].read_bytes()
    html = raw.decode("utf-8")
    assert '<html lang="vi">' in html and '<meta charset="utf-8">' in html
    for text in (
        "Bảng xếp hạng chỉ số hài lòng về sự phục vụ hành chính — tháng 10/2026",
        "Phường Ba Đình",
        "Xã Hòa Xá",
        "Sở Tư pháp",
        "Khoảng tin cậy 95%",
        "Xu hướng",
        "Số phiếu",
        "Lý do không xếp hạng",
        "K_n + Q_n ≥ 30",
        "Chưa đủ số phiếu tối thiểu",
        "01/11/2026 02:00 (giờ Hà Nội)",
        "0123abcd" * 8,
    ):
        assert text in html, text
    assert "Phường Ba Đình".encode() in raw  # precomposed UTF-8, not entities
    assert "▲ +1.20" in html and "▼ \u22120.50" in html  # minus sign
    tags = {t for t, _, _ in parsed(files[1]).tags}
    assert not tags & {"script", "link", "img", "iframe"}
    assert "http" not in html.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_labels() -> None:
    assert period_label("2026-10") == "tháng 10/2026"
    assert period_label("2026") == "năm 2026"
    assert (
        weights_text('{"camera": 0.15, "kiosk": 0.35, "qr": 0.5}')
        == "QR 0.50 · kiosk 0.35 · camera 0.15"
    )
    assert reason_text("no channel present") == "Không có dữ liệu từ kênh nào"
    assert reason_text("something new") == "something new"
