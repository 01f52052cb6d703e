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

Pure code: no ClickHouse, no Dagster. The chart's elements have stable classes for
tests and tools: ``svg.chart`` (``data-group``), per unit ``g.unit``, ``rect.bar`` and
``line.interval``, each with ``data-unit`` (the unit code).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape
from pathlib import Path

from hailong.methodology import LOCAL_TZ, two_decimals

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


# --- HTML -------------------------------------------------------------------------------

_CSS = """
body { font-family: "Noto Sans", "Segoe UI", Roboto, "DejaVu Sans", Arial, sans-serif;
  color: #1f2933; max-width: 960px; margin: 0 auto; padding: 20px; font-size: 14px;
  line-height: 1.4; }
h1 { font-size: 22px; margin: 0 0 12px; }
h2 { font-size: 18px; margin: 32px 0 4px; border-bottom: 2px solid #2c5282; }
h3 { font-size: 15px; margin: 20px 0 6px; }
dl.meta { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; margin: 0;
  background: #f4f6f8; padding: 10px 14px; border-radius: 4px; }
dl.meta dt { color: #52606d; } dl.meta dd { margin: 0; }
code { font-family: "DejaVu Sans Mono", monospace; font-size: 12px; word-break: break-all; }
.summary, .legend, .note { color: #52606d; margin: 4px 0 8px; }
.swatch { display: inline-block; width: 22px; height: 10px; background: #90b4e0;
  vertical-align: middle; margin: 0 4px 0 0; }
.whisker { display: inline-block; width: 22px; height: 8px; border: 1.5px solid #1f2933;
  border-top: 0; border-bottom: 0; background: linear-gradient(#1f2933, #1f2933) center /
  100% 1.5px no-repeat; vertical-align: middle; margin: 0 4px 0 14px; }
svg.chart { display: block; max-width: 100%; height: auto; }
svg.chart text { font-size: 12px; fill: #1f2933; }
svg.chart text.tick, svg.chart text.rank { fill: #7b8794; }
svg.chart text.axis { font-size: 12px; fill: #52606d; }
svg.chart line.grid { stroke: #e4e7eb; stroke-width: 1; }
svg.chart line.grid.major { stroke: #9aa5b1; }
svg.chart rect.bar { fill: #90b4e0; }
svg.chart g.unit:hover rect.bar { fill: #5a8ed0; }
svg.chart line.interval, svg.chart line.cap { stroke: #1f2933; stroke-width: 1.5; }
table { border-collapse: collapse; width: 100%; margin: 8px 0; }
th, td { padding: 3px 8px; border-bottom: 1px solid #e4e7eb; text-align: left; }
th { background: #f4f6f8; font-weight: 600; vertical-align: bottom; }
th.span { text-align: center; border-bottom: 1px solid #9aa5b1; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tbody tr:nth-child(even) { background: #fafbfc; }
.code, .ci { color: #7b8794; font-size: 12px; }
.up { color: #2f855a; } .down { color: #c53030; } .flat { color: #7b8794; }
"""


def _e(text: object) -> str:
    return escape(str(text), quote=True)


def _x(score: float) -> float:
    """The chart's x of a score (0-100)."""
    return PLOT_LEFT + PLOT_WIDTH * score / 100


def _px(value: float) -> str:
    return f"{value:.2f}"


def _shown(value: float | None) -> str:
    return _dec(value) or "—"


def _interval(lo: float | None, hi: float | None) -> str:
    return f"{_dec(lo)} {DASH} {_dec(hi)}" if lo is not None and hi is not None else "—"


def _trend(trend: float | None) -> str:
    if trend is None:
        return '<span class="flat" title="Chưa có kỳ trước">—</span>'
    d = two_decimals(trend)
    if d > 0:
        return f'<span class="up">▲ +{d}</span>'
    if d < 0:
        return f'<span class="down">▼ {MINUS}{-d}</span>'
    return '<span class="flat">= 0.00</span>'


def _chart(group: str, ranked: Sequence[ReportRow]) -> str:
    plot_h = len(ranked) * ROW_HEIGHT
    height = CHART_TOP + plot_h + CHART_BOTTOM
    bottom = CHART_TOP + plot_h
    label = f"Biểu đồ điểm và khoảng tin cậy 95%: {peer_group_label(group)}"
    out = [
        f'<svg class="chart" id="chart-{_e(group)}" data-group="{_e(group)}" '
        f'xmlns="http://www.w3.org/2000/svg" width="{CHART_WIDTH}" height="{height}" '
        f'viewBox="0 0 {CHART_WIDTH} {height}" role="img" aria-label="{_e(label)}">'
    ]
    for tick in range(0, 101, 10):
        x = _px(_x(tick))
        major = " major" if tick in (0, 100) else ""
        out.append(
            f'<line class="grid{major}" x1="{x}" y1="{CHART_TOP - 4}" x2="{x}" '
            f'y2="{bottom + 4}"/>'
            f'<text class="tick" x="{x}" y="{CHART_TOP - 8}" text-anchor="middle">'
            f"{tick}</text>"
            f'<text class="tick" x="{x}" y="{bottom + 18}" text-anchor="middle">'
            f"{tick}</text>"
        )
    out.append(
        f'<text class="axis" x="{_px(_x(50))}" y="{bottom + 36}" text-anchor="middle">'
        f"Điểm (0{DASH}100)</text>"
    )
    for i, r in enumerate(ranked):
        score = r.score if r.score is not None else 0.0  # ranked rows always have one
        top = CHART_TOP + i * ROW_HEIGHT + (ROW_HEIGHT - BAR_HEIGHT) / 2
        mid = _px(top + BAR_HEIGHT / 2)
        base = top + BAR_HEIGHT / 2 + 4  # text baseline, vertically centred at 12 px
        name = (
            r.unit_name
            if len(r.unit_name) <= NAME_MAX_CHARS
            else r.unit_name[: NAME_MAX_CHARS - 1] + "…"
        )
        tip = (
            f"{r.rank}/{r.n_ranked}. {r.unit_name}: {_dec(r.score)} "
            f"(khoảng tin cậy 95%: {_interval(r.score_lo, r.score_hi)})"
        )
        unit = _e(r.unit_code)
        out.append(
            f'<g class="unit" data-unit="{unit}" data-rank="{r.rank}">'
            f"<title>{_e(tip)}</title>"
            f'<text class="rank" x="36" y="{_px(base)}" text-anchor="end">{r.rank}</text>'
            f'<text class="name" x="{PLOT_LEFT - 8}" y="{_px(base)}" '
            f'text-anchor="end">{_e(name)}</text>'
            f'<rect class="bar" data-unit="{unit}" data-score="{_dec(r.score)}" '
            f'x="{PLOT_LEFT}" y="{_px(top)}" width="{_px(_x(score) - PLOT_LEFT)}" '
            f'height="{BAR_HEIGHT}"/>'
        )
        if r.score_lo is not None and r.score_hi is not None:
            lo, hi = _px(_x(r.score_lo)), _px(_x(r.score_hi))
            cap_top, cap_bottom = _px(top + 3), _px(top + BAR_HEIGHT - 3)
            out.append(
                f'<line class="interval" data-unit="{unit}" data-lo="{_dec(r.score_lo)}"'
                f' data-hi="{_dec(r.score_hi)}" x1="{lo}" y1="{mid}" x2="{hi}" '
                f'y2="{mid}"/>'
                f'<line class="cap" x1="{lo}" y1="{cap_top}" x2="{lo}" y2="{cap_bottom}"/>'
                f'<line class="cap" x1="{hi}" y1="{cap_top}" x2="{hi}" y2="{cap_bottom}"/>'
            )
        out.append(
            f'<text class="value" x="{PLOT_LEFT + PLOT_WIDTH + 10}" y="{_px(base)}">'
            f"{_dec(r.score)}</text></g>"
        )
    out.append("</svg>")
    return "\n".join(out)


def _ranked_table(ranked: Sequence[ReportRow]) -> str:
    out = [
        '<table class="ranking"><thead>'
        '<tr><th rowspan="2" class="num">Hạng</th><th rowspan="2">Đơn vị</th>'
        '<th rowspan="2" class="num">Điểm</th>'
        '<th rowspan="2" class="num">Khoảng tin cậy 95%</th>'
        '<th rowspan="2" class="num">Xu hướng</th><th colspan="3" class="span">Số phiếu</th>'
        '</tr><tr><th class="num">Kiosk</th><th class="num">QR</th>'
        '<th class="num">Camera</th></tr></thead><tbody>'
    ]
    for r in ranked:
        rank_ci = (
            f' <span class="ci">({r.rank_lo}{DASH}{r.rank_hi})</span>'
            if r.rank_lo is not None and r.rank_hi is not None
            else ""
        )
        out.append(
            f'<tr data-unit="{_e(r.unit_code)}">'
            f'<td class="num"><strong>{r.rank}</strong>/{r.n_ranked}{rank_ci}</td>'
            f'<td>{_e(r.unit_name)} <span class="code">{_e(r.unit_code)}</span></td>'
            f'<td class="num">{_shown(r.score)}</td>'
            f'<td class="num">{_interval(r.score_lo, r.score_hi)}</td>'
            f'<td class="num">{_trend(r.trend)}</td><td class="num">{r.k_n}</td>'
            f'<td class="num">{r.q_n}</td><td class="num">{r.c_n}</td></tr>'
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _unranked_table(unranked: Sequence[ReportRow]) -> str:
    out = [
        '<table class="unranked"><thead><tr><th>Đơn vị</th><th class="num">Điểm</th>'
        '<th class="num">Kiosk</th><th class="num">QR</th><th class="num">Camera</th>'
        "<th>Lý do không xếp hạng</th></tr></thead><tbody>"
    ]
    for r in unranked:
        out.append(
            f'<tr data-unit="{_e(r.unit_code)}">'
            f'<td>{_e(r.unit_name)} <span class="code">{_e(r.unit_code)}</span></td>'
            f'<td class="num">{_shown(r.score)}</td><td class="num">{r.k_n}</td>'
            f'<td class="num">{r.q_n}</td><td class="num">{r.c_n}</td>'
            f"<td>{_e(reason_text(r.reason))}</td></tr>"
        )
    out.append("</tbody></table>")
    return "\n".join(out)


def _generated(at: datetime) -> str:
    local = at.astimezone(LOCAL_TZ) if at.tzinfo else at
    return local.strftime("%d/%m/%Y %H:%M") + (" (giờ Hà Nội)" if at.tzinfo else "")


def render_html(report: Report, rows: Sequence[ReportRow]) -> str:
    """The report page; ``rows`` in report order (:func:`in_report_order`)."""
    meta = [
        ("Kỳ", _e(period_label(report.period))),
        ("Phiên bản phương pháp", _e(report.methodology_version)),
        ("Trọng số các kênh", _e(report.weights)),
        ("Số phiếu tối thiểu để xếp hạng", f"K_n + Q_n ≥ {report.min_sample}"),
        ("Mã kiểm tra dữ liệu đầu vào (SHA-256)", f"<code>{_e(report.input_checksum)}</code>"),
        ("Thời điểm lập", _e(_generated(report.generated_at))),
    ]
    out = [
        "<!DOCTYPE html>",
        '<html lang="vi">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{_e(report.title)}</title>",
        f"<style>{_CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>{_e(report.title)}</h1>",
        '<dl class="meta">',
        *(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in meta),
        "</dl>",
        f'<p class="note">Điểm: chỉ số hài lòng (0{DASH}100), làm tròn 2 chữ số thập phân; các '
        "đơn vị bằng điểm đồng hạng. Khoảng tin cậy 95% của điểm và của hạng được ước lượng "
        "bằng phương pháp bootstrap. Xu hướng: thay đổi điểm so với kỳ trước.</p>",
    ]
    for group in sorted({r.peer_group for r in rows}):
        members = [r for r in rows if r.peer_group == group]
        ranked = [r for r in members if r.rank is not None and r.score is not None]
        unranked = [r for r in members if r.rank is None or r.score is None]
        out.append(
            f'<section class="group" data-group="{_e(group)}">'
            f"<h2>{_e(peer_group_label(group))}</h2>"
            f'<p class="summary">{len(members)} đơn vị, {len(ranked)} được xếp hạng.</p>'
        )
        if ranked:
            out += [
                '<p class="legend"><span class="swatch"></span>Điểm'
                '<span class="whisker"></span>Khoảng tin cậy 95%</p>',
                _chart(group, ranked),
                _ranked_table(ranked),
            ]
        if unranked:
            out += [
                f"<h3>Đơn vị không được xếp hạng ({len(unranked)})</h3>",
                _unranked_table(unranked),
            ]
        out.append("</section>")
    out += ["</body>", "</html>", ""]
    return "\n".join(out)
