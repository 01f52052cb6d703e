"""Figures 1-3 of issue 6: the ingest limits and Hailong's stream worker against them.

Over 400 lines on purpose: figures 1-3 measure the same pre-loaded topics three ways
(raw loops, ClickHouse's Kafka engine, the worker) and must be read side by side.

All three read the same pre-loaded topics (:mod:`bench.preload`: the simulator's mix of
kiosk ratings, QR surveys and camera observations, >= 1M events, 50k with ``--quick``)
and land them in the lab's raw tables (``kiosk_ratings_raw``, ``qr_surveys_raw``,
``camera_observations_raw``); pre-loading is not measured.

1. ``1-ingest-python``: the fastest any Python pipeline could be here: one
   confluent-kafka consumer (partitions assigned, no group join), ``json.loads`` of
   each value, the raw rows as Hailong writes them (same columns, version from the
   offset, but no validation, dedup, dead letters or buckets), inserted in columnar
   blocks of 100k rows with clickhouse-driver, offsets committed after each insert.
   Timed from the first poll to the last insert acknowledged.
2. ``2-ingest-native``: ClickHouse's own Kafka table engine (one Kafka table per topic)
   with a materialized view into each raw table. Timed from creating the tables to
   the last row visible in raw. 18.16 specifics, see :func:`native_ingest`.
3. ``3-hailong-stream``: ``hailong stream`` (the real worker: contract validation,
   event index, raw rows, hourly buckets recomputed per batch, offsets committed after
   ClickHouse confirmed) as a child process. Timed from its consumer group being
   stable with every partition assigned to every event in raw *and* in the hourly
   buckets (:func:`bench.preload.land`). Also reported: the worker's CPU and the
   ClickHouse server's CPU over that time, in % of one core (the server's figure
   includes anything else it runs meanwhile), the worker's CPU per event against the
   bare faust agent's (figure 3b, :mod:`bench.figures.runtime`), and the difference of
   the two: Hailong's own CPU per event. A worker that makes no progress for
   :data:`bench.preload.STALL_S` fails the run with its last warning.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from bench.core import Figure, Lab, Value
from bench.preload import ch_client, check_distinct, land, landed_rows, preload, worker
from hailong.kafka import ADMIN, client_config
from hailong.settings import Settings
from warehouse import camera, kiosk, qr

FULL_EVENTS = 1_010_000  # >= 1,000,000 after the simulator's per-office rounding
QUICK_EVENTS = 50_000
INSERT_ROWS = 100_000
VERSION_TOP = 2**64 - 1
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


BARE = "3b-bare-faust"  # bench/figures/runtime.py: faust's own ceiling


def events_for(lab: Lab) -> int:
    return QUICK_EVENTS if lab.quick else FULL_EVENTS


# -- 1. the Python limit -------------------------------------------------------------


def _us(text: str) -> int:
    return (datetime.fromisoformat(text) - _EPOCH) // _US


def _kiosk_row(d: dict[str, Any], partition: int, offset: int) -> tuple[Any, ...]:
    us = _us(d["occurred_at"])
    return (
        d["event_id"],
        d["office_id"],
        d["device_id"],
        d.get("counter_id"),
        d.get("staff_id"),
        d.get("procedure_code"),
        d.get("dossier_id"),
        us // 1_000_000,
        us,
        d["scale"],
        d["value"],
        partition,
        offset,
        VERSION_TOP - offset,
    )


def _qr_row_maker() -> Any:
    from hailong.questionnaire import questionnaires

    aspects = {
        q_id: {c: q.aspect_of(c) for c in q.criterion_codes} for q_id, q in questionnaires().items()
    }

    def row(d: dict[str, Any], partition: int, offset: int) -> tuple[Any, ...]:
        us = _us(d["submitted_at"])
        answers = d["answers"]
        codes = sorted(answers)
        of = aspects[d["questionnaire"]]
        return (
            d["event_id"],
            d["token_id"],
            d["office_id"],
            us // 1_000_000,
            us,
            d["questionnaire"],
            codes,
            [of[c] for c in codes],
            [answers[c] for c in codes],
            d.get("overall"),
            d.get("comment"),
            d.get("procedure_code"),
            d.get("dossier_id"),
            partition,
            offset,
            VERSION_TOP - offset,
        )

    return row


def _camera_row(d: dict[str, Any], partition: int, offset: int) -> tuple[Any, ...]:
    us = _us(d["observed_at"])
    return (
        d["event_id"],
        d["office_id"],
        d["camera_id"],
        us // 1_000_000,
        us,
        d["kind"],
        d.get("sentiment"),
        d.get("confidence"),
        d.get("track_id"),
        d.get("queue_length"),
        d.get("wait_seconds"),
        partition,
        offset,
        VERSION_TOP - offset,
    )


def python_ingest(lab: Lab) -> dict[str, float]:
    from confluent_kafka import OFFSET_BEGINNING, Consumer, TopicPartition

    s = lab.settings
    msgs = preload(s, events_for(lab))
    lab.progress(f"pre-loaded {msgs.total:,} events {msgs.counts}")
    t = s.topics
    tables = {
        t.kiosk: (kiosk.RAW_TABLE, kiosk.RAW_COLUMNS, _kiosk_row),
        t.qr: (qr.RAW_TABLE, qr.RAW_COLUMNS, _qr_row_maker()),
        t.camera: (camera.RAW_TABLE, camera.RAW_COLUMNS, _camera_row),
    }
    inserts = {
        topic: f"INSERT INTO {table} ({', '.join(cols)}) VALUES"
        for topic, (table, cols, _) in tables.items()
    }
    makers: dict[Any, Any] = {topic: maker for topic, (_, _, maker) in tables.items()}
    client = ch_client(s)
    consumer = Consumer(
        {
            **client_config(s, ADMIN),
            "group.id": s.consumer_group,
            "enable.auto.commit": False,
            "auto.offset.reset": "earliest",
        }
    )
    metadata = consumer.list_topics(timeout=10).topics
    consumer.assign(
        [
            TopicPartition(topic, p, OFFSET_BEGINNING)
            for topic in tables
            for p in metadata[topic].partitions
        ]
    )
    rows: dict[Any, list[tuple[Any, ...]]] = {topic: [] for topic in tables}
    loads: Any = json.loads

    def flush() -> None:
        for topic, buffered in rows.items():
            if buffered:
                client.execute(
                    inserts[topic],
                    list(zip(*buffered, strict=True)),
                    columnar=True,
                    types_check=False,
                )
                buffered.clear()
        consumer.commit(asynchronous=False)

    consumed = buffered = 0
    t0 = time.monotonic()
    try:
        while consumed < msgs.total:
            for m in consumer.consume(10_000, timeout=1.0):
                if m.error():
                    raise RuntimeError(f"consumer error: {m.error()}")
                topic = m.topic()
                rows[topic].append(makers[topic](loads(m.value()), m.partition(), m.offset()))
                consumed += 1
                buffered += 1
            if buffered >= INSERT_ROWS or (consumed >= msgs.total and buffered):
                flush()
                buffered = 0
        seconds = time.monotonic() - t0
        check_distinct(client, msgs)
    finally:
        consumer.close()
        client.disconnect()
    return {"events_per_s": msgs.total / seconds}


# -- 2. the native limit -------------------------------------------------------------

# 18.16's Kafka engine (librdkafka 2.0.2 from Debian, which talks to Kafka 4.0 fine):
# - no virtual columns (_topic, _partition, _offset, _key are "Unknown identifier"), so
#   the raw rows get kafka_partition = kafka_offset = 0 and a constant version: the
#   native path cannot make replays idempotent the way the worker does;
# - librdkafka's auto.offset.reset stays 'latest' and the table takes no setting for
#   it, so each table's group gets offset 0 committed before the table is created;
# - messages are not newline-terminated: a text format needs kafka_row_delimiter;
# - JSONEachRow cannot read QR's `answers` object into any column type, and a view that
#   renames (subquery) fails in the engine's thread ("There is no query: while pushing
#   to view", code 393), so every table reads each message as one String (TSV, one
#   column; the simulator's JSON has no tabs or backslash escapes) and the views take
#   the fields apart with visitParam* functions, all in SQL.


_NO_POSITION = "toUInt32(0) AS kafka_partition, toUInt64(0) AS kafka_offset, toUInt64(0) AS version"


def _str(field: str) -> str:
    return f"visitParamExtractString(line, '{field}')"


def _opt(field: str) -> str:
    """An optional string field: NULL when absent."""
    return (
        f"if(visitParamHas(line, '{field}'), toNullable({_str(field)}), "
        f"CAST(NULL AS Nullable(String)))"
    )


def _opt_number(field: str, ch_type: str, kind: str) -> str:
    """An optional number field: NULL when absent or null."""
    return (
        f"if(visitParamHas(line, '{field}') "
        f"AND visitParamExtractRaw(line, '{field}') != 'null', "
        f"toNullable(to{ch_type}(visitParamExtract{kind}(line, '{field}'))), "
        f"CAST(NULL AS Nullable({ch_type})))"
    )


def _us_sql(expr: str) -> str:
    """Microseconds since the epoch of an RFC 3339 string, in 18.16 SQL."""
    return (
        f"toInt64(toUInt32(parseDateTimeBestEffort({expr}))) * 1000000 + "
        f"toInt64(substring(concat(extract({expr}, '\\\\.([0-9]+)'), '000000'), 1, 6))"
    )


def _native_views(prefix: str) -> dict[str, str]:
    """The materialized views' SELECTs (from the Kafka tables k_<channel>)."""
    from hailong.questionnaire import questionnaires

    q = questionnaires()["sipas-5/1"]
    codes = sorted(q.criterion_codes)
    code_list = ", ".join(f"'{c}'" for c in codes)
    aspect_list = ", ".join(f"'{q.aspect_of(c)}'" for c in codes)
    raw = "visitParamExtractRaw(line, 'answers')"
    return {
        "kiosk": f"""
            SELECT toUUID({_str("event_id")}) AS event_id, {_str("office_id")} AS office_id,
                   {_str("device_id")} AS device_id, {_opt("counter_id")} AS counter_id,
                   {_opt("staff_id")} AS staff_id, {_opt("procedure_code")} AS procedure_code,
                   {_opt("dossier_id")} AS dossier_id,
                   parseDateTimeBestEffort({_str("occurred_at")}) AS occurred_at,
                   {_us_sql(_str("occurred_at"))} AS occurred_at_us,
                   toUInt8(visitParamExtractUInt(line, 'scale')) AS scale,
                   toUInt8(visitParamExtractUInt(line, 'value')) AS value,
                   {_NO_POSITION}
            FROM {prefix}k_kiosk""",
        "camera": f"""
            SELECT toUUID({_str("event_id")}) AS event_id, {_str("office_id")} AS office_id,
                   {_str("camera_id")} AS camera_id,
                   parseDateTimeBestEffort({_str("observed_at")}) AS observed_at,
                   {_us_sql(_str("observed_at"))} AS observed_at_us, {_str("kind")} AS kind,
                   {_opt("sentiment")} AS sentiment,
                   {_opt_number("confidence", "Float64", "Float")} AS confidence,
                   {_opt("track_id")} AS track_id,
                   {_opt_number("queue_length", "UInt32", "UInt")} AS queue_length,
                   {_opt_number("wait_seconds", "Float64", "Float")} AS wait_seconds,
                   {_NO_POSITION}
            FROM {prefix}k_camera""",
        "qr": f"""
            SELECT toUUID({_str("event_id")}) AS event_id, {_str("token_id")} AS token_id,
                   {_str("office_id")} AS office_id,
                   parseDateTimeBestEffort({_str("submitted_at")}) AS submitted_at,
                   {_us_sql(_str("submitted_at"))} AS submitted_at_us,
                   {_str("questionnaire")} AS questionnaire,
                   arraySort(extractAll({raw}, '"([^"]+)"')) AS answer_codes,
                   arrayMap(c -> transform(c, [{code_list}], [{aspect_list}], ''), answer_codes)
                       AS answer_aspects,
                   arraySort((v, c) -> c, arrayMap(x -> toUInt8(x), extractAll({raw}, ':([0-9]+)')),
                             extractAll({raw}, '"([^"]+)"')) AS answer_values,
                   {_opt_number("overall", "UInt8", "UInt")} AS overall,
                   {_opt("comment")} AS comment, {_opt("procedure_code")} AS procedure_code,
                   {_opt("dossier_id")} AS dossier_id,
                   {_NO_POSITION}
            FROM {prefix}k_qr""",
    }


def _commit_beginning(s: Settings, topic: str, group: str) -> None:
    """Commit offset 0 on every partition of ``topic`` for ``group``."""
    from confluent_kafka import Consumer, TopicPartition

    c = Consumer({**client_config(s, ADMIN), "group.id": group, "enable.auto.commit": False})
    try:
        parts = c.list_topics(topic, timeout=10).topics[topic].partitions
        c.commit(offsets=[TopicPartition(topic, p, 0) for p in parts], asynchronous=False)
    finally:
        c.close()


NATIVE_CONSUMERS = 1  # per Kafka table (three tables: three consumers)


def native_ingest(lab: Lab) -> dict[str, float]:
    s = lab.settings
    if s.kafka_security_protocol.startswith("SASL"):
        # Debian's 18.16 links the system's librdkafka 2.0.2, whose SCRAM proof Kafka 4
        # refuses (librdkafka#4895, fixed in 2.6.1); current servers bundle a newer one.
        raise RuntimeError(
            "the Kafka engine of ClickHouse 18.16 cannot log in to a Kafka 4 "
            "broker with SCRAM (its librdkafka 2.0.2 predates the fix of "
            "librdkafka#4895); figure 2 needs a current ClickHouse server"
        )
    msgs = preload(s, events_for(lab))
    lab.progress(f"pre-loaded {msgs.total:,} events {msgs.counts}")
    t = s.topics
    groups = {c: f"{s.consumer_group}-native-{c}" for c in ("kiosk", "qr", "camera")}
    for channel, group in groups.items():
        _commit_beginning(s, getattr(t, channel), group)
    targets = {"kiosk": kiosk.RAW_TABLE, "qr": qr.RAW_TABLE, "camera": camera.RAW_TABLE}
    views = _native_views("")
    client = ch_client(s)
    created: list[str] = []
    try:
        t0 = time.monotonic()
        for channel in ("kiosk", "qr", "camera"):
            client.execute(
                f"CREATE TABLE k_{channel} (line String) ENGINE = Kafka SETTINGS "
                f"kafka_broker_list = '{s.bootstrap_servers}', "
                f"kafka_topic_list = '{getattr(t, channel)}', "
                f"kafka_group_name = '{groups[channel]}', kafka_format = 'TSV', "
                f"kafka_row_delimiter = '\\n', kafka_num_consumers = {NATIVE_CONSUMERS}"
            )
            created.append(f"k_{channel}")
            client.execute(
                f"CREATE MATERIALIZED VIEW mv_{channel} TO {targets[channel]} AS {views[channel]}"
            )
            created.append(f"mv_{channel}")
        deadline = time.monotonic() + 600
        while True:
            landed = landed_rows(client)
            if all(landed[c] >= n for c, n in msgs.counts.items()):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"native ingest: {landed} of {msgs.counts} after 600 s")
            time.sleep(0.1)
        seconds = time.monotonic() - t0
        for view in [c for c in created if c.startswith("mv_")]:
            client.execute(f"DROP TABLE {view}")
            created.remove(view)
        check_distinct(client, msgs)
    finally:
        for table in reversed(created):
            client.execute(f"DROP TABLE IF EXISTS {table}")
        client.disconnect()
        _delete_groups(s, list(groups.values()))
    return {"events_per_s": msgs.total / seconds}


def _delete_groups(s: Settings, groups: list[str]) -> None:
    """Remove the Kafka tables' consumer groups (best effort: the lab removes topics)."""
    from hailong.kafka import admin_client

    admin = admin_client(s)
    for fut in admin.delete_consumer_groups(groups, request_timeout=10).values():
        try:
            fut.result()
        except Exception:  # noqa: BLE001, S110 - a group still closing stays behind
            pass


# -- 3. Hailong's stream worker --------------------------------------------------------


def hailong_stream(
    lab: Lab, signed: bool = False, before: dict[str, int] | None = None
) -> dict[str, float]:
    """Figure 3 (``signed``: 3s, the same events signed by their simulated devices and a
    worker that verifies every signature against the device registry; ``before``: the
    raw rows per channel the database holds already, figure 3h)."""
    from hailong.settings import load_settings
    from producers.simulator import hanoi_offices, simulated_keyring

    s = lab.settings
    keyring = None
    if signed:
        s = load_settings(
            **{**{n: getattr(s, n) for n in s.model_fields_set}, "require_signatures": True}
        )
        keyring = simulated_keyring(s, hanoi_offices())
    msgs = preload(s, events_for(lab), keyring=keyring)
    lab.progress(f"pre-loaded {msgs.total:,} events {msgs.counts}")
    with worker(s) as w:
        got = land(s, msgs, [w], lab.progress, before)
    return {
        "events_per_s": got.rate,
        "events_per_s_vs_native": got.rate,
        "events_per_s_vs_bare_faust": got.rate,
        "worker_cpu_pct": got.cpu_pct("worker"),
        "clickhouse_cpu_pct": got.cpu_pct("clickhouse"),
        "worker_cpu_us_per_event": got.cpu_us_per_event("worker"),
    }


HISTORY_EVENTS = 30_000_000  # figure 3h: raw events of earlier months, each claimed
QUICK_HISTORY_EVENTS = 1_000_000
HISTORY_MONTH = "2025-08"  # two months before the pre-loaded events (bench/preload.py)


def hailong_stream_history(lab: Lab) -> dict[str, float]:
    """Figure 3h: figure 3 on a database that already holds a month of history (written
    by SQL, each event with its claim and key, as the worker leaves them), to show
    whether what the worker does per batch grows with what it landed before."""
    from bench.figures.rankings import generate, month_offices, settle
    from pipelines.ranking import Period
    from warehouse import claims
    from warehouse.client import Warehouse

    total = QUICK_HISTORY_EVENTS if lab.quick else HISTORY_EVENTS
    period = Period.parse(HISTORY_MONTH)
    with Warehouse(lab.settings) as wh:
        counts = generate(wh, period, month_offices(wh, period), total)
        claims.key_existing(wh)
        settle(wh)
        held = wh.execute(f"SELECT count() FROM {claims.KEYS_TABLE}")[0][0]
    lab.progress(f"history: {sum(counts.values()):,} raw events of {period.key}, {held:,} claims")
    got = hailong_stream(lab, before=counts)
    return {
        "events_per_s": got["events_per_s"],
        "worker_cpu_us_per_event": got["worker_cpu_us_per_event"],
        "history_claims": float(held),
    }


FIGURES = [
    Figure(
        "1-ingest-python",
        "Ingest limit, Python: confluent-kafka + json + columnar inserts",
        (Value("events_per_s", "events/s"),),
        python_ingest,
        note="no validation, dedup, dead letters or buckets; 100k-row inserts",
    ),
    Figure(
        "2-ingest-native",
        "Ingest limit, native: Kafka engine + materialized views (18.16)",
        (Value("events_per_s", "events/s"),),
        native_ingest,
        note="no Kafka offsets in raw (18.16 has no _offset); QR parsed with visitParam*",
    ),
    Figure(
        "3-hailong-stream",
        "Hailong's stream worker: raw + hourly buckets",
        (
            Value("events_per_s", "events/s", reference="1-ingest-python.events_per_s"),
            Value("events_per_s_vs_native", "events/s", reference="2-ingest-native.events_per_s"),
            Value("events_per_s_vs_bare_faust", "events/s", reference=f"{BARE}.events_per_s"),
            Value("worker_cpu_pct", "% of core", higher_is_better=False),
            Value("clickhouse_cpu_pct", "% of core", higher_is_better=False),
            Value(
                "worker_cpu_us_per_event",
                "µs/event",
                reference=f"{BARE}.cpu_us_per_event",
                higher_is_better=False,
            ),
            # Hailong's own CPU per event: the worker's less the bare faust agent's
            Value(
                "hailong_cpu_us_per_event",
                "µs/event",
                reference="3-hailong-stream.worker_cpu_us_per_event",
                higher_is_better=False,
                difference=(
                    "3-hailong-stream.worker_cpu_us_per_event",
                    f"{BARE}.cpu_us_per_event",
                ),
            ),
        ),
        hailong_stream,
        note="from the worker's group joining to the last batch's buckets refreshed",
    ),
    Figure(
        "3s-hailong-stream-signed",
        "Figure 3 with signed events, every signature verified",
        (
            Value("events_per_s", "events/s", reference="3-hailong-stream.events_per_s"),
            Value("worker_cpu_pct", "% of core", higher_is_better=False),
            Value("clickhouse_cpu_pct", "% of core", higher_is_better=False),
            Value(
                "worker_cpu_us_per_event",
                "µs/event",
                reference="3-hailong-stream.worker_cpu_us_per_event",
                higher_is_better=False,
            ),
        ),
        lambda lab: {
            k: v
            for k, v in hailong_stream(lab, signed=True).items()
            if not k.startswith("events_per_s_vs_")
        },
        note="Ed25519 (cryptography/OpenSSL), one verification per event in the worker",
    ),
    Figure(
        "3h-hailong-stream-history",
        "Figure 3 after a month of history (30M events; 1M with --quick)",
        (
            Value("events_per_s", "events/s", reference="3-hailong-stream.events_per_s"),
            Value(
                "worker_cpu_us_per_event",
                "µs/event",
                reference="3-hailong-stream.worker_cpu_us_per_event",
                higher_is_better=False,
            ),
            Value("history_claims", "claims"),
        ),
        hailong_stream_history,
        note="the history is written by SQL before the run, with every claim and key",
    ),
]
