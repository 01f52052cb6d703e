"""What the dashboard, the portal and the read API read, from the city views
(warehouse/README.md): one function per thing a page shows, each returning plain rows
as dicts. Scope checks are the caller's (``pipelines/web/pages.py``, ``api.py``); these
functions read what they are asked.

"Published" rankings are those of a period that has ended and was computed after its
end (the scheduled run on the 1st, or a re-run); a ranking of the month in progress is
a preview, which the public portal never shows.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from hailong.clock import Clock
from warehouse.client import Warehouse, sql
from warehouse.registry import office_names as registry_office_names
from warehouse.registry import office_units

WINDOWS = ("1h", "24h", "7d", "30d")
# ClickHouse 18.16 filters a view's rows after computing it, unless told to push the
# outer WHERE into it (the current engine does so by itself).
PUSH_DOWN = {"enable_optimize_predicate_expression": 1}
INDEX_COLUMNS = (
    "office_id",
    "window",
    "k_n",
    "s_kiosk",
    "q_n",
    "s_qr",
    "c_n",
    "s_camera",
    "osi",
    "queue_length_avg",
    "wait_seconds_avg",
)
RANKING_COLUMNS = (
    "period",
    "peer_group",
    "unit_code",
    "unit_name",
    "rank",
    "n_ranked",
    "rank_lo",
    "rank_hi",
    "score",
    "score_lo",
    "score_hi",
    "prev_score",
    "trend",
    "s_kiosk",
    "s_qr",
    "s_camera",
    "k_n",
    "q_n",
    "c_n",
    "offices",
    "eligible",
    "reason",
    "input_checksum",
    "computed_at",
    "stale",
)


def _dicts(columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> list[dict[str, Any]]:
    return [dict(zip(columns, r, strict=True)) for r in rows]


def unit_of(wh: Warehouse) -> dict[str, str]:
    """Each office's unit (``warehouse/registry.py``)."""
    return office_units(wh)


def units(wh: Warehouse) -> dict[str, dict[str, str]]:
    """Each unit's name, level and type (its latest validity)."""
    return {
        c: {"name": n, "level": lv, "type": t}
        for c, n, lv, t in wh.execute(
            "SELECT code, argMax(name, valid_from), argMax(level, valid_from), "
            "argMax(type, valid_from) FROM units GROUP BY code"
        )
    }


def office_names(wh: Warehouse) -> dict[str, str]:
    return registry_office_names(wh)


def live_index(
    wh: Warehouse, offices: list[str] | None = None, windows: tuple[str, ...] = WINDOWS
) -> list[dict[str, Any]]:
    """The live index (view ``office_index_current``) of some offices, or of all (None).
    For some offices the view's text with the offices filtered inside
    (``warehouse/sql/office_index.sql``): 18.16 would compute the view for every office."""
    if offices is not None and not offices:
        return []
    if offices is None:
        query = f"SELECT {', '.join(INDEX_COLUMNS)} FROM office_index_current"
    else:
        query = f"SELECT {', '.join(INDEX_COLUMNS)} FROM ({sql('office_index')}) AS idx"
    rows = _dicts(
        INDEX_COLUMNS,
        wh.execute(
            query + " WHERE window IN %(w)s", {"w": tuple(windows), "offices": tuple(offices or ())}
        ),
    )
    return sorted(rows, key=lambda r: (r["office_id"], WINDOWS.index(r["window"])))


CITY_SQL = """
SELECT tupleElement(w, 1) AS window, sum(k_n), sum(k_sat), sum(q_n), sum(c_n), sum(c_pos)
FROM office_hourly
ARRAY JOIN [('1h', 1), ('24h', 24)] AS w
WHERE hour >= toStartOfHour(now()) - 24 * 3600
  AND hour >= toStartOfHour(now()) - tupleElement(w, 2) * 3600
GROUP BY window
"""


def city_live(wh: Warehouse) -> list[dict[str, Any]]:
    """The whole city's kiosk and camera shares and its QR answers over the last hour and
    day (sums over its offices, as a unit's are; the QR score needs the criteria of each
    office, on their pages)."""
    out = []
    for window, k_n, k_sat, q_n, c_n, c_pos in wh.execute(CITY_SQL, settings=PUSH_DOWN):
        out.append(
            {
                "window": window,
                "k_n": int(k_n),
                "q_n": int(q_n),
                "c_n": int(c_n),
                "s_kiosk": 100 * k_sat / k_n if k_n else None,
                "s_camera": 100 * c_pos / c_n if c_n else None,
            }
        )
    return sorted(out, key=lambda r: WINDOWS.index(r["window"]))


def latest_landed(wh: Warehouse) -> datetime | None:
    """When the stream worker last landed an event (the freshness of the live figures)."""
    ((us,),) = wh.execute("SELECT max(last_seen_us) FROM device_seen")
    return datetime.fromtimestamp(int(us) / 1e6, UTC) if us else None


def hourly(wh: Warehouse, office_id: str, since: datetime) -> list[dict[str, Any]]:
    """An office's hourly counts since ``since`` (view ``office_hourly``)."""
    columns = ("hour", "k_n", "k_sat", "q_n", "c_n", "c_pos")
    return _dicts(columns, wh.execute(HOURLY_SQL, {"o": office_id, "s": int(since.timestamp())}))


# One office's hourly counts: what the view office_hourly gives, read from the three
# tables by their key (the view, even with the filter pushed down, reads much more).
HOURLY_SQL = """
SELECT toUInt32(hour) AS h, sum(k_n), sum(k_sat), sum(q_n), sum(c_n), sum(c_pos)
FROM
(
    SELECT hour, k_n, k_sat, toUInt64(0) AS q_n, toUInt64(0) AS c_n, toUInt64(0) AS c_pos
    FROM kiosk_hourly FINAL
    WHERE office_id = %(o)s AND hour >= toDateTime(%(s)s, 'UTC')
    UNION ALL
    SELECT hour, toUInt64(0), toUInt64(0), q_n, toUInt64(0), toUInt64(0)
    FROM qr_hourly FINAL
    WHERE office_id = %(o)s AND hour >= toDateTime(%(s)s, 'UTC')
    UNION ALL
    SELECT hour, toUInt64(0), toUInt64(0), toUInt64(0), c_n, c_pos
    FROM camera_hourly FINAL
    WHERE office_id = %(o)s AND hour >= toDateTime(%(s)s, 'UTC')
) AS channels
GROUP BY h
ORDER BY h
"""


def counters(wh: Warehouse, office_id: str, since: datetime) -> list[dict[str, Any]]:
    """Each counter's counted presses since ``since`` (misuse excluded)."""
    columns = ("counter_id", "k_n", "k_sat", "s_kiosk")
    return _dicts(
        columns,
        wh.execute(
            "SELECT ifNull(counter_id, '') AS counter, count(), sum(satisfied), "
            "100 * sum(satisfied) / count() FROM kiosk_ratings "
            "WHERE office_id = %(o)s AND occurred_at >= toDateTime(%(s)s, 'UTC') AND misuse = 0 "
            "GROUP BY counter ORDER BY counter",
            {"o": office_id, "s": int(since.timestamp())},
            settings=PUSH_DOWN,
        ),
    )


def staff_scores(
    wh: Warehouse, office_id: str, staff_id: str | None = None
) -> list[dict[str, Any]]:
    """Monthly staff scores at an office (of one staff member), newest month first."""
    columns = ("period", "staff_id", "k_n", "k_sat", "score", "eligible", "reason")
    where = " AND staff_id = %(s)s" if staff_id is not None else ""
    return _dicts(
        columns,
        wh.execute(
            f"SELECT {', '.join(columns)} FROM staff_scores_monthly "
            f"WHERE office_id = %(o)s{where} ORDER BY period DESC, staff_id",
            {"o": office_id, "s": staff_id},
        ),
    )


def devices(wh: Warehouse, office_id: str) -> list[dict[str, Any]]:
    columns = ("device_id", "kind", "last_seen_us", "skew_s", "silent")
    return _dicts(
        columns,
        wh.execute(
            f"SELECT {', '.join(columns)} FROM device_health WHERE office_id = %(o)s "
            "ORDER BY device_id",
            {"o": office_id},
        ),
    )


def comments(wh: Warehouse, office_id: str, limit: int = 20) -> list[dict[str, Any]]:
    """The office's latest QR comments, as stored (scrubbed of personal data)."""
    columns = ("submitted_at", "overall", "comment")
    return _dicts(
        columns,
        wh.execute(
            "SELECT submitted_at, overall, comment FROM qr_surveys_raw FINAL "
            "WHERE office_id = %(o)s AND comment IS NOT NULL AND comment != '' "
            "ORDER BY submitted_at DESC LIMIT %(n)s",
            {"o": office_id, "n": limit},
        ),
    )


def open_alerts(wh: Warehouse) -> list[dict[str, Any]]:
    from warehouse.alerts import current

    return [{**a._asdict(), "numbers": a.numbers} for a in current(wh)]


def ranking_periods(wh: Warehouse, clock: Clock, published_only: bool) -> list[str]:
    """Periods with a ranking, newest first; ``published_only``: ended and computed
    after their end (see the module's docstring)."""
    periods = [
        p for (p,) in wh.execute("SELECT DISTINCT period FROM ranking_rows ORDER BY period DESC")
    ]
    if not published_only:
        return periods
    out = []
    for p in periods:
        ((computed,),) = wh.execute(
            "SELECT toUInt32(max(computed_at)) FROM ranking_rows WHERE period = %(p)s", {"p": p}
        )
        end = period_end(p)
        if end <= clock.now() and int(computed) >= int(end.timestamp()):
            out.append(p)
    return out


def period_end(period: str) -> datetime:
    """The first instant after a period ('2026-11' or '2026'), Hanoi calendar."""
    from zoneinfo import ZoneInfo

    tz = ZoneInfo("Asia/Ho_Chi_Minh")
    if len(period) == 4:
        return datetime(int(period) + 1, 1, 1, tzinfo=tz)
    year, month = int(period[:4]), int(period[5:7])
    return datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=tz)


def ranking(
    wh: Warehouse, period: str, unit_codes: list[str] | None = None
) -> list[dict[str, Any]]:
    """A period's ranking rows (of some units), by peer group and rank."""
    where = " AND unit_code IN %(u)s" if unit_codes is not None else ""
    if unit_codes is not None and not unit_codes:
        return []
    return _dicts(
        RANKING_COLUMNS,
        wh.execute(
            f"SELECT {', '.join(RANKING_COLUMNS)} FROM ranking_rows WHERE period = %(p)s{where} "
            "ORDER BY peer_group, isNull(rank), rank, unit_name",
            {"p": period, "u": tuple(unit_codes or ())},
        ),
    )


def open_data(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """A period's open data: its rows (no staff-level data exists in them) and the
    input checksum anyone can recompute (pipelines/ranking.py ``checksum``)."""
    checksums = sorted({r["input_checksum"] for r in rows})
    return {
        "period": rows[0]["period"] if rows else None,
        "input_checksum": checksums,
        "rows": [
            {k: (v.isoformat() if isinstance(v, datetime) else v) for k, v in r.items()}
            for r in rows
        ],
    }


def weights_json(wh: Warehouse) -> dict[str, float]:
    rows = wh.execute(
        "SELECT argMax(qr, valid_from), argMax(kiosk, valid_from), "
        "argMax(camera, valid_from) FROM index_weights"
    )
    weights: dict[str, float] = json.loads(
        json.dumps(dict(zip(("qr", "kiosk", "camera"), rows[0], strict=True)))
    )
    return weights
