"""The published report of one ranking period, in Vietnamese: a CSV and an HTML page.

:func:`write_report` writes two files into a folder, for period key ``P`` ('2026-10' or
'2026'):

- ``ranking-P.csv``: one row per unit, peer group by peer group, ranked units in rank
  order and then the unranked ones with their reason. UTF-8 with a byte order mark (so
  Excel shows Vietnamese correctly), comma-separated, one header row of Vietnamese
  column names (:data:`CSV_COLUMNS`; their order is stable), numbers with '.' as the
  decimal point and scores at 2 decimals, an empty cell where there is no value.
- ``ranking-P.html``: one self-contained page (inline CSS and SVG; no script, font or
  image to fetch): the period, methodology version, weights, minimum sample and input
  checksum; then per peer group a horizontal bar chart of the ranked units' scores with
  their 95% intervals, the ranking table, and the unranked units with their reason.

Pure code: no ClickHouse, no Dagster. The page is the Jinja2 template
``templates/report.html`` (autoescape on; its CSS is ``templates/report.css``); this
module computes what it shows (chart geometry, number formats). The chart's elements
have stable classes for tests and tools: ``svg.chart`` (``data-group``), per unit
``g.unit``, ``rect.bar`` and ``line.interval``, each with ``data-unit`` (the unit code).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from hailong.methodology import LOCAL_TZ, two_decimals
from hailong.templating import environment

# Peer groups are the units' level in the registry; unknown levels are shown as they are.
PEER_GROUPS = {
    "commune": "Xã, phường",
    "department": "Sở, ban, ngành",
    "district": "Quận, huyện, thị xã (trước 1/7/2025)",
    "ward": "Phường, xã, thị trấn (trước 1/7/2025)",
}
# Reasons come from the ranking code in English; known ones are translated by prefix.
REASONS = {
    "sample too small": "Chưa đủ số phiếu tối thiểu",
    "no channel present": "Không có dữ liệu từ kênh nào",
}

CSV_COLUMNS = (
    "Kỳ",
    "Nhóm so sánh",
    "Hạng",
    "Số đơn vị được xếp hạng",
    "Hạng (khoảng tin cậy 95%) từ",
    "Hạng (khoảng tin cậy 95%) đến",
    "Mã đơn vị",
    "Tên đơn vị",
    "Điểm",
    "Điểm (khoảng tin cậy 95%) từ",
    "Điểm (khoảng tin cậy 95%) đến",
    "Xu hướng so với kỳ trước",
    "Số phiếu kiosk (K_n)",
    "Số phiếu QR (Q_n)",
    "Số quan sát camera (C_n)",
    "Lý do không xếp hạng",
    "Phiên bản phương pháp",
    "Mã kiểm tra dữ liệu đầu vào (SHA-256)",
)

# Chart geometry (px). A row of 22 px keeps 126 units readable (about 2.8k px tall).
CHART_WIDTH = 960
PLOT_LEFT = 300  # rank and unit name to the left of this
PLOT_WIDTH = 560  # score 0 → PLOT_LEFT, score 100 → PLOT_LEFT + PLOT_WIDTH
ROW_HEIGHT = 22
BAR_HEIGHT = 16
CHART_TOP = 26  # tick labels above the plot
CHART_BOTTOM = 44  # tick labels and axis title below it
NAME_MAX_CHARS = 38  # longer names are cut in the chart (whole in the tooltip and table)
# Typography of the page: ranges with an en dash, negative trends with a minus sign.
DASH = "\u2013"
MINUS = "\u2212"


@dataclass(frozen=True)
class ReportRow:
    """One unit in the report. Scores 0-100; intervals are 95% (bootstrap)."""

    peer_group: str
    unit_code: str
    unit_name: str
    rank: int | None
    n_ranked: int
    score: float | None
    score_lo: float | None
    score_hi: float | None
    rank_lo: int | None  # best rank in the interval (smallest number)
    rank_hi: int | None
    k_n: int
    q_n: int
    c_n: int
    trend: float | None  # score minus the previous period's score; None: no history
    reason: str  # why the unit is not ranked; '' when ranked


@dataclass(frozen=True)
class Report:
    """What the report is about, shown in its header."""

    period: str  # '2026-10' or '2026'
    title: str
    methodology_version: str
    weights: str  # as shown, e.g. weights_text(row.weights)
    min_sample: int
    input_checksum: str
    generated_at: datetime


def period_label(period: str) -> str:
    """'2026-10' → 'tháng 10/2026'; '2026' → 'năm 2026'."""
    year, _, month = period.partition("-")
    return f"tháng {int(month)}/{year}" if month else f"năm {year}"


def report_title(period: str) -> str:
    return f"Bảng xếp hạng chỉ số hài lòng về sự phục vụ hành chính — {period_label(period)}"


def weights_text(weights_json: str) -> str:
    """The weights as recorded with a ranking row ('{"camera": 0.15, ...}') → 'QR 0.50 · ...'."""
    w = json.loads(weights_json)
    names = {"qr": "QR", "kiosk": "kiosk", "camera": "camera"}
    return " · ".join(
        f"{names.get(k, k)} {float(w[k]):.2f}" for k in sorted(w, key=lambda k: (-float(w[k]), k))
    )


def peer_group_label(code: str) -> str:
    return PEER_GROUPS.get(code, code)


def reason_text(reason: str) -> str:
    """A ranking reason in Vietnamese ('sample too small: K_n + Q_n = 12 < 30' → ...)."""
    for prefix, vi in REASONS.items():
        if reason.startswith(prefix):
            return vi + reason[len(prefix) :]
    return reason


def in_report_order(rows: Iterable[ReportRow]) -> list[ReportRow]:
    """By peer group, then rank (ties by unit code), the unranked last."""
    return sorted(rows, key=lambda r: (r.peer_group, r.rank is None, r.rank or 0, r.unit_code))


def write_report(report: Report, rows: Sequence[ReportRow], out_dir: Path) -> tuple[Path, Path]:
    """Write ``ranking-<period>.csv`` and ``ranking-<period>.html``; return their paths."""
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = in_report_order(rows)
    csv_path = out_dir / f"ranking-{report.period}.csv"
    html_path = out_dir / f"ranking-{report.period}.html"
    with csv_path.open("w", encoding="utf-8-sig", newline="") as f:
        out = csv.writer(f)
        out.writerow(CSV_COLUMNS)
        out.writerows(_csv_row(report, r) for r in ordered)
    html_path.write_text(render_html(report, ordered), encoding="utf-8")
    return csv_path, html_path


def _dec(value: float | None) -> str:
    """2 decimals, half up, '.' as the decimal point; '' for no value."""
    if value is None:
        return ""
    d = two_decimals(value)
    return str(abs(d) if d == 0 else d)  # no '-0.00'


def _int(value: int | None) -> str:
    return "" if value is None else str(value)


def _csv_row(report: Report, r: ReportRow) -> list[str]:
    return [
        report.period,
        peer_group_label(r.peer_group),
        _int(r.rank),
        str(r.n_ranked),
        _int(r.rank_lo),
        _int(r.rank_hi),
        r.unit_code,
        r.unit_name,
        _dec(r.score),
        _dec(r.score_lo),
        _dec(r.score_hi),
        _dec(r.trend),
        str(r.k_n),
        str(r.q_n),
        str(r.c_n),
        reason_text(r.reason),
        report.methodology_version,
        report.input_checksum,
    ]


# --- HTML (templates/report.html) -------------------------------------------------------


def _x(score: float) -> float:
    """The chart's x of a score (0-100)."""
    return PLOT_LEFT + PLOT_WIDTH * score / 100


def _px(value: float) -> str:
    return f"{value:.2f}"


def _shown(value: float | None) -> str:
    return _dec(value) or "—"


def _interval(lo: float | None, hi: float | None) -> str:
    return f"{_dec(lo)} {DASH} {_dec(hi)}" if lo is not None and hi is not None else "—"


@dataclass(frozen=True)
class _Bar:
    """One ranked unit in a chart, its coordinates as written (px, 2 decimals)."""

    row: ReportRow
    name: str  # cut to NAME_MAX_CHARS
    tip: str
    top: str
    mid: str
    base: str  # text baseline, vertically centred at 12 px
    width: str
    lo: str | None  # the interval's ends; None without an interval
    hi: str | None
    cap_top: str
    cap_bottom: str


@dataclass(frozen=True)
class _Chart:
    """A peer group's chart: its size, and the ticks, axis and bars to draw."""

    group: str
    label: str
    height: int
    bottom: int  # y of the plot's bottom
    ticks: list[tuple[int, str]]  # (score, x)
    axis_x: str
    bars: list[_Bar]


@dataclass(frozen=True)
class _Group:
    """A peer group's section: its ranked units (chart and table), then the unranked."""

    code: str
    label: str
    size: int
    ranked: list[ReportRow]
    unranked: list[ReportRow]
    chart: _Chart | None


def _bar(i: int, r: ReportRow) -> _Bar:
    score = r.score if r.score is not None else 0.0  # ranked rows always have one
    top = CHART_TOP + i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
    cut = len(r.unit_name) > NAME_MAX_CHARS
    ends = (r.score_lo, r.score_hi) if r.score_lo is not None and r.score_hi is not None else None
    return _Bar(
        row=r,
        name=r.unit_name[: NAME_MAX_CHARS - 1] + "…" if cut else r.unit_name,
        tip=f"{r.rank}/{r.n_ranked}. {r.unit_name}: {_dec(r.score)} "
        f"(khoảng tin cậy 95%: {_interval(r.score_lo, r.score_hi)})",
        top=_px(top),
        mid=_px(top + BAR_HEIGHT / 2),
        base=_px(top + BAR_HEIGHT / 2 + 4),
        width=_px(_x(score) - PLOT_LEFT),
        lo=_px(_x(ends[0])) if ends else None,
        hi=_px(_x(ends[1])) if ends else None,
        cap_top=_px(top + 3),
        cap_bottom=_px(top + BAR_HEIGHT - 3),
    )


def _chart(group: str, ranked: Sequence[ReportRow]) -> _Chart:
    bottom = CHART_TOP + len(ranked) * ROW_HEIGHT
    return _Chart(
        group=group,
        label=f"Biểu đồ điểm và khoảng tin cậy 95%: {peer_group_label(group)}",
        height=bottom + CHART_BOTTOM,
        bottom=bottom,
        ticks=[(tick, _px(_x(tick))) for tick in range(0, 101, 10)],
        axis_x=_px(_x(50)),
        bars=[_bar(i, r) for i, r in enumerate(ranked)],
    )


def _group(code: str, members: list[ReportRow]) -> _Group:
    ranked = [r for r in members if r.rank is not None and r.score is not None]
    unranked = [r for r in members if r.rank is None or r.score is None]
    chart = _chart(code, ranked) if ranked else None
    return _Group(code, peer_group_label(code), len(members), ranked, unranked, chart)


def _generated(at: datetime) -> str:
    local = at.astimezone(LOCAL_TZ) if at.tzinfo else at
    return local.strftime("%d/%m/%Y %H:%M") + (" (giờ Hà Nội)" if at.tzinfo else "")


_ENV = environment(Path(__file__).parent / "templates")
_ENV.filters.update(dec=_dec, shown=_shown, two_decimals=two_decimals, reason_text=reason_text)
# The module's constants (chart geometry, DASH, MINUS) are the template's too.
_ENV.globals.update({k: v for k, v in globals().items() if k.isupper()}, interval=_interval)


def render_html(report: Report, rows: Sequence[ReportRow]) -> str:
    """The report page; ``rows`` in report order (:func:`in_report_order`)."""
    groups = [
        _group(code, [r for r in rows if r.peer_group == code])
        for code in sorted({r.peer_group for r in rows})
    ]
    return _ENV.get_template("report.html").render(
        report=report,
        period=period_label(report.period),
        generated=_generated(report.generated_at),
        groups=groups,
    )
