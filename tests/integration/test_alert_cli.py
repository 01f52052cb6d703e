"""`hailong alerts` on the real services: run the engine, list, acknowledge, snooze and
resolve alerts (each refused where it does not apply), load and show the rule book and
the routing table (its secrets kept out of sight)."""

from __future__ import annotations

import json
import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from hailong.settings import Settings
from streams.alert_engine import AlertEngine
from tests.conftest import reconfigured
from tests.integration.test_alert_engine import city
from tests.integration.test_devices import hailong
from warehouse.client import Warehouse

pytestmark = pytest.mark.integration


def test_alerts_from_the_command_line(settings: Settings, tmp_path: Path) -> None:
    s = reconfigured(settings, alert_routes_file=tmp_path / "routes" / "routes.json")
    now = datetime.now(UTC)
    with Warehouse(s) as wh:
        city(wh, int(now.timestamp()) // 3600 - 1)

    ran = hailong(s, "alerts", "run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "changes recorded" in ran.stdout and "delivered 2 to kafka" in ran.stdout

    listed = json.loads(hailong(s, "alerts", "list", "--json").stdout)
    by_rule = {a["rule"]: a for a in listed}
    assert set(by_rule) == {"credible_drop", "index_below"}
    assert all(a["office_id"] == "HN-A" and a["state"] == "raised" for a in listed)
    drop, low = by_rule["credible_drop"]["alert_id"], by_rule["index_below"]["alert_id"]
    text = hailong(s, "alerts", "list").stdout
    assert "2 open alerts" in text and drop in text and "window_hi" in text

    ack = hailong(
        s, "alerts", "ack", "--alert-id", drop, "--by", "chair of U-A", "--comment", "staff briefed"
    )
    assert ack.returncode == 0 and "acknowledged by chair of U-A" in ack.stdout, ack.stderr
    again = hailong(s, "alerts", "ack", "--alert-id", drop, "--by", "chair of U-A")
    assert again.returncode == 2 and "only a raised alert" in again.stderr

    later = (now + timedelta(days=1)).isoformat()
    snoozed = hailong(s, "alerts", "snooze", "--alert-id", low, "--until", later, "--by", "x")
    assert snoozed.returncode == 0, snoozed.stderr
    past = hailong(
        s,
        "alerts",
        "snooze",
        "--alert-id",
        low,
        "--until",
        (now - timedelta(days=1)).isoformat(),
        "--by",
        "x",
    )
    assert past.returncode == 2 and "later hour" in past.stderr
    naive = hailong(s, "alerts", "snooze", "--alert-id", low, "--until", "2030-01-01T00:00")
    assert naive.returncode == 2 and "offset" in naive.stderr

    done = hailong(s, "alerts", "resolve", "--alert-id", low, "--by", "x", "--comment", "fixed")
    assert done.returncode == 0, done.stderr
    assert hailong(s, "alerts", "resolve", "--alert-id", low, "--by", "x").returncode == 2
    missing = hailong(s, "alerts", "ack", "--alert-id", "nope", "--by", "x")
    assert missing.returncode == 2 and "no alert nope" in missing.stderr

    state = {
        a["rule"]: a for a in json.loads(hailong(s, "alerts", "list", "--all", "--json").stdout)
    }
    assert state["credible_drop"]["state"] == "acknowledged"
    assert state["credible_drop"]["acknowledged_by"] == "chair of U-A"
    assert state["index_below"]["state"] == "resolved"
    # The engine delivers the people's changes too (ack, snooze, resolve: 3 on the topic).
    ran = hailong(s, "alerts", "run")
    assert "delivered 3 to kafka" in ran.stdout, ran.stdout

    # The rule book: refused when wrong, loaded when right, used by the engine.
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"offices": {"HN-A": {"index_below": {"threshold": 3}}}}))
    refused = hailong(s, "alerts", "rules", "load", str(bad))
    assert refused.returncode == 2 and "not a valid rule book" in refused.stderr
    good = tmp_path / "rules.json"
    good.write_text(json.dumps({"units": {"U-A": {"index_below": {"threshold": 0.7}}}}))
    loaded = hailong(s, "alerts", "rules", "load", str(good), "--by", "city IT")
    assert loaded.returncode == 0 and "1 unit and 0 office overrides" in loaded.stdout
    shown = json.loads(hailong(s, "alerts", "rules", "show").stdout)
    assert shown["units"]["U-A"]["index_below"]["threshold"] == 0.7
    with Warehouse(s) as wh:
        assert AlertEngine.rulebook(wh).for_office("HN-A", "U-A").index_below.threshold == 0.7

    # The routing table: a webhook without a secret is refused; the file is the
    # platform's only (0600); `show` masks the secret.
    routes = tmp_path / "routes-in.json"
    routes.write_text(json.dumps({"routes": [{"match": "*", "webhook": "https://x.example/h"}]}))
    assert hailong(s, "alerts", "routes", "load", str(routes)).returncode == 2
    routes.write_text(
        json.dumps(
            {
                "routes": [
                    {
                        "match": "U-A",
                        "webhook": "https://x.example/h",
                        "secret": "a-secret-of-32-characters-xx",
                    },
                    {"match": "*", "email": ["city@hanoi.example"], "mode": "digest"},
                ]
            }
        )
    )
    loaded = hailong(s, "alerts", "routes", "load", str(routes))
    assert loaded.returncode == 0 and "2 routes loaded" in loaded.stdout, loaded.stderr
    assert stat.S_IMODE(s.alert_routes_path.stat().st_mode) == 0o600
    shown_routes = hailong(s, "alerts", "routes", "show").stdout
    assert "U-A" in shown_routes and "a-secret-of" not in shown_routes
