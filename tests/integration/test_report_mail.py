"""Issue 15: on publication, the month's report goes by e-mail to each unit's recipients,
with the ranking's CSV attached, through a real SMTP server (aiosmtpd); once per report
and address, and never for a preview of a month in progress."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from types import SimpleNamespace

import pytest
from dagster import DagsterInstance

from hailong.clock import SYSTEM
from hailong.settings import Settings
from pipelines.assets import failed_checks, materialize_period
from pipelines.delivery import mail_report
from pipelines.resources import ClickHouseResource
from pipelines.web.auth import Account
from pipelines.web.store import Accounts
from tests.integration.test_rankings import city  # noqa: F401 - a fixture
from tests.serving import smtp_server
from warehouse.private import prepare_private

pytestmark = pytest.mark.integration


def test_the_published_report_is_mailed_with_its_csv(
    settings: Settings,
    city: ClickHouseResource,  # noqa: F811
    tmp_path: Path,
) -> None:
    prepare_private(settings)
    with Accounts(settings, SYSTEM) as accounts:
        accounts.add(
            Account("chair.80005", "unit", "80005", email="chair@80005.example"),
            "a long test password",
            "test",
        )
        accounts.add(
            Account("chair.80007", "unit", "80007", email="chair@80007.example"),
            "a long test password",
            "test",
        )
        accounts.add(
            Account("dxs", "city", email="dxs@hanoi.example"), "a long test password", "test"
        )
        accounts.add(Account("quiet", "unit", "80009"), "a long test password", "test")
    with smtp_server() as (port, received):
        smtp = {"smtp_host": "127.0.0.1", "smtp_port": port, "report_dir": Path(city.report_dir)}
        mailing = ClickHouseResource.from_settings(settings.model_copy(update=smtp))
        result = materialize_period("2025-07", mailing, DagsterInstance.ephemeral())
        assert result.success, failed_checks(result)
        mails = {
            m["To"]: m
            for m in (message_from_bytes(e.content, policy=policy.default) for e in received)
        }
        assert set(mails) == {
            "chair@80005.example",
            "chair@80007.example",
            "dxs@hanoi.example",
        }  # the unit without an address: none
        mine = mails["chair@80005.example"]
        assert "2025-07" in mine["Subject"] and "Phường Năm" in mine["Subject"]
        plain = mine.get_body(preferencelist=("plain",))
        assert plain is not None
        body = plain.get_content()
        assert "Phường Năm (80005)" in body and "Input checksum" in body
        attachment = next(p for p in mine.walk() if p.get_filename())
        assert (attachment.get_filename() or "").endswith(".csv")
        content = attachment.get_content()
        text = content if isinstance(content, str) else content.decode("utf-8-sig")
        rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
        assert {"80005", "80007", "80009"} <= {r["Mã đơn vị"] for r in rows}
        # The same inputs again: nothing new is mailed.
        again = materialize_period("2025-07", mailing, DagsterInstance.ephemeral())
        assert again.success and len(received) == 3
        # A month in progress is a preview: never mailed; the same call for an ended
        # period, with inputs not mailed yet, is.
        row = SimpleNamespace(
            unit_code="80005",
            unit_name="Phường Năm",
            peer_group="commune",
            rank=1,
            n_ranked=3,
            rank_lo=1,
            rank_hi=2,
            score=90.0,
            reason="",
            input_checksum="f" * 64,
        )
        csv_path = tmp_path / "preview.csv"
        csv_path.write_text("period,unit_code\n2999-01,80005\n")
        now = datetime.now(UTC)
        assert (
            mail_report(
                mailing.settings(), "2999-01", now + timedelta(days=9), [row], csv_path, now
            )
            == 0
        )
        assert len(received) == 3
        assert (
            mail_report(
                mailing.settings(), "2999-01", now - timedelta(days=1), [row], csv_path, now
            )
            == 2
        )  # the unit's chair and the city
