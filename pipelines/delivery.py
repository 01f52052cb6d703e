"""The month's report by e-mail on publication (issue 15): each unit's recipients (the
e-mail addresses of the unit's dashboard accounts, ``hailong users add --role unit
--email``) get their unit's line and the whole ranking as a CSV attachment; the city's
accounts with an address get the whole ranking.

"On publication" means a ranking of a period that has ended (the scheduled run on the
1st, or a re-run later): a preview of the month in progress is never mailed. Each
(period, input checksum, address) is mailed once (``report_deliveries`` in the private
database): running the ranking again on the same inputs sends nothing; new inputs (late
events) send the corrected report. Without an SMTP server (``HAILONG_SMTP_HOST``)
nothing is sent, and the ranking says so in its log.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from hailong.mail import Mailer, SendError
from hailong.settings import Settings
from pipelines.ranking import RankingRow
from warehouse.client import Warehouse
from warehouse.private import private_database

log = logging.getLogger(__name__)


def recipients(wh: Warehouse) -> list[tuple[str, str]]:
    """(address, unit code or '' for the city) of every enabled account with one."""
    return [
        (email, scope if role == "unit" else "")
        for email, role, scope in wh.execute(
            "SELECT email, role, scope FROM accounts FINAL WHERE disabled = 0 AND email != '' "
            "AND role IN ('unit', 'city') ORDER BY email"
        )
    ]


def text_for(period: str, unit_code: str, rows: Sequence[RankingRow]) -> tuple[str, str]:
    """The mail's subject and text: the unit's line (or the city's summary)."""
    if unit_code:
        mine = [r for r in rows if r.unit_code == unit_code]
        if not mine:
            return "", ""
        r = mine[0]
        place = (
            f"hạng {r.rank}/{r.n_ranked} (khoảng {r.rank_lo}-{r.rank_hi})"
            if r.rank
            else f"không xếp hạng: {r.reason}"
        )
        score = f"{r.score:.2f}" if r.score is not None else "—"
        subject = f"Hài lòng {period}: {r.unit_name} — {place}"
        body = (
            f"Kết quả tháng {period} của {r.unit_name} ({r.unit_code}), nhóm "
            f"{r.peer_group}: chỉ số {score}, {place}.\n"
            f"Results of {period} for {r.unit_name}: score {score}, "
            + (f"rank {r.rank} of {r.n_ranked}" if r.rank else f"unranked ({r.reason})")
            + ".\n\nBảng xếp hạng đầy đủ đính kèm (CSV). The full ranking is attached.\n"
            f"Input checksum: {r.input_checksum}\n"
        )
        return subject, body
    ranked = sum(1 for r in rows if r.rank)
    return (
        f"Hài lòng {period}: bảng xếp hạng ({ranked} đơn vị được xếp hạng)",
        f"Bảng xếp hạng tháng {period}, {len(rows)} đơn vị, {ranked} được xếp hạng, "
        "đính kèm (CSV).\nThe ranking of the period is attached (CSV).\n"
        f"Input checksum: {rows[0].input_checksum if rows else ''}\n",
    )


def mail_report(
    settings: Settings,
    period: str,
    period_end: datetime,
    rows: Sequence[RankingRow],
    csv_path: Path,
    now: datetime,
) -> int:
    """Mail a published period's report to its recipients; return how many were sent."""
    if period_end > now:
        return 0  # a preview: not published
    if not settings.smtp_host:
        log.warning("%s: no SMTP server (HAILONG_SMTP_HOST): the report is not mailed", period)
        return 0
    if not rows:
        return 0
    checksum = rows[0].input_checksum
    mailer = Mailer(
        settings.smtp_host,
        settings.smtp_port,
        settings.smtp_from,
        settings.smtp_starttls,
        settings.smtp_user,
        settings.smtp_password.get_secret_value(),
    )
    attachment = (csv_path.name, csv_path.read_bytes(), "text/csv")
    sent = 0
    with Warehouse(settings, database=private_database(settings)) as wh:
        done = {
            e
            for (e,) in wh.execute(
                "SELECT email FROM report_deliveries FINAL WHERE period = %(p)s "
                "AND input_checksum = %(c)s",
                {"p": period, "c": checksum},
            )
        }
        for email, unit_code in recipients(wh):
            if email in done:
                continue
            subject, text = text_for(period, unit_code, rows)
            if not subject:
                continue  # a unit not in this ranking
            try:
                mailer.send([email], subject, text, [attachment])
            except SendError as exc:
                log.warning("%s: report not mailed to %s: %s", period, email, exc)
                continue
            wh.insert(
                "report_deliveries",
                ("period", "input_checksum", "email", "unit_code", "sent_at"),
                [(period, checksum, email, unit_code, now.replace(microsecond=0))],
            )
            sent += 1
    return sent
