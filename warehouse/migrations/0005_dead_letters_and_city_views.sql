-- 0005: dead letters in ClickHouse, and two more views for city IT (documented in
-- warehouse/README.md): dead_letter_summary and office_hourly. Every statement is
-- idempotent; the views are stable (a change to one is a new view, never an edit).

-- Every dead letter the stream worker published to the dead-letter topic, landed in
-- the same batch (after Kafka's ack, before the batch is acknowledged). A replay after a
-- crash publishes and lands a dead letter again: the Kafka message it came from,
-- (source_topic, kafka_partition, kafka_offset), identifies it, and `version` (counting
-- down from the top of UInt64 by rejected_at_us) makes the first rejection win. Not
-- partitioned by time: a replay's copy, rejected later, must collapse with the first.
CREATE TABLE IF NOT EXISTS dead_letters
(
    source_topic     String,
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    key              Nullable(String),        -- the message key, UTF-8 (others escaped)
    raw              String,                  -- the original value, exact bytes
    error            String,                  -- the readable reason (hailong/contract.py)
    rejected_at      DateTime('UTC'),
    rejected_at_us   Int64,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (source_topic, kafka_partition, kafka_offset);

-- Dead letters per Hanoi local day, source topic and reason class, each dead letter once
-- (FINAL). The reason class is derived from the error text (first matching rule):
-- tombstone, bom, not_utf8, not_json, not_object, duplicate_key, bad_number,
-- unknown_schema, wrong_topic, unknown_field (any field not in the contract), then
-- 'field:<name>' for the first field that fails the contract (its top-level name), and
-- 'other' for anything else.
CREATE VIEW IF NOT EXISTS dead_letter_summary AS
SELECT
    day,
    source_topic,
    reason,
    count() AS dead_letters,
    min(rejected_at) AS first_rejected_at,
    max(rejected_at) AS last_rejected_at
FROM
(
    SELECT
        toDate(toTimeZone(rejected_at, 'Asia/Ho_Chi_Minh')) AS day,
        source_topic,
        rejected_at,
        extract(error, '^([A-Za-z_][A-Za-z0-9_]*)[.:]') AS field,
        multiIf(
            error LIKE 'value is null%', 'tombstone',
            error LIKE 'value starts with a UTF-8 byte order mark%', 'bom',
            error LIKE 'value is not valid UTF-8%', 'not_utf8',
            error LIKE 'value is not JSON%', 'not_json',
            error LIKE 'value must be a JSON object%', 'not_object',
            error LIKE 'duplicate JSON key%', 'duplicate_key',
            error LIKE '% is not a JSON number%' OR error LIKE 'number % is out of range%',
                'bad_number',
            error LIKE 'schema: unknown schema%', 'unknown_schema',
            error LIKE 'schema: % is not accepted on topic %', 'wrong_topic',
            error LIKE '%unknown field (not in contract v1)%', 'unknown_field',
            field != '', concat('field:', field),
            'other') AS reason
    FROM dead_letters FINAL
) AS classified
GROUP BY day, source_topic, reason;

-- Counts per office and UTC hour across the three channels: the hourly buckets the
-- stream worker keeps (each read with FINAL), side by side; an office-hour appears when
-- any channel has a bucket for it. Sums over hours give any period exactly.
CREATE VIEW IF NOT EXISTS office_hourly AS
SELECT
    office_id,
    hour,
    sum(kn) AS k_n,
    sum(ksat) AS k_sat,
    sum(kmisuse) AS k_misuse,
    sum(qn) AS q_n,
    sum(qdup) AS q_duplicates,
    sum(cn) AS c_n,
    sum(cpos) AS c_pos,
    sum(clow) AS c_low_confidence,
    sum(qobs) AS queue_obs,
    sum(qlsum) AS queue_length_sum,
    max(qlmax) AS queue_length_max,
    sum(wobs) AS wait_obs,
    sum(wsum) AS wait_seconds_sum
FROM
(
    SELECT office_id, hour, k_n AS kn, k_sat AS ksat, k_misuse AS kmisuse,
           toUInt64(0) AS qn, toUInt64(0) AS qdup, toUInt64(0) AS cn, toUInt64(0) AS cpos,
           toUInt64(0) AS clow, toUInt64(0) AS qobs, toUInt64(0) AS qlsum,
           toUInt64(0) AS qlmax, toUInt64(0) AS wobs, toFloat64(0) AS wsum
    FROM kiosk_hourly FINAL
    UNION ALL
    SELECT office_id, hour, toUInt64(0) AS kn, toUInt64(0) AS ksat, toUInt64(0) AS kmisuse,
           q_n AS qn, q_duplicates AS qdup, toUInt64(0) AS cn, toUInt64(0) AS cpos,
           toUInt64(0) AS clow, toUInt64(0) AS qobs, toUInt64(0) AS qlsum,
           toUInt64(0) AS qlmax, toUInt64(0) AS wobs, toFloat64(0) AS wsum
    FROM qr_hourly FINAL
    UNION ALL
    SELECT office_id, hour, toUInt64(0) AS kn, toUInt64(0) AS ksat, toUInt64(0) AS kmisuse,
           toUInt64(0) AS qn, toUInt64(0) AS qdup, c_n AS cn, c_pos AS cpos,
           c_low_confidence AS clow, queue_obs AS qobs, queue_length_sum AS qlsum,
           queue_length_max AS qlmax, wait_obs AS wobs, wait_seconds_sum AS wsum
    FROM camera_hourly FINAL
) AS channels
GROUP BY office_id, hour;
