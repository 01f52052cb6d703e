-- 0008: claims replace event_index as the rule "each event_id once" (methodology v1).
--
-- Every Kafka message of a valid event that the stream worker lands is claimed here,
-- once per message (its channel, partition and offset). `uncontested` = 1 when the
-- worker saw no earlier claim of the event_id (a new event); a later copy is claimed
-- with 0 and never lands. Two workers that land copies of a new event_id at the same
-- moment both claim with 1; the bucket queries then count only the least of them
-- (channel, offset, partition): the "owner" (warehouse/sql/claims_head.sql). Rows are
-- never replaced or removed (plain MergeTree), so the claims of an id only grow and
-- every reader sees the same owner once it sees the same claims.
CREATE TABLE IF NOT EXISTS event_claims
(
    event_id         UUID,
    channel          String,                  -- kiosk | qr | camera
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    uncontested      UInt8,
    office_id        String,                  -- where the message's event is: the
    at_us            Int64                    -- buckets its landing may change
)
ENGINE = MergeTree
ORDER BY (event_id, channel, kafka_partition, kafka_offset);

-- The event_ids with more than one candidate claim (copies that two workers landed at
-- the same moment), written by the worker that sees the second one. Only for these do
-- the bucket queries read event_claims; every other raw row counts as it is.
CREATE TABLE IF NOT EXISTS contested_events
(
    office_id  String,                        -- one row per candidate: where it is, so
    at_us      Int64,                         -- a refresh reads the ids of its range
    event_id   UUID
)
ENGINE = ReplacingMergeTree
ORDER BY (office_id, at_us, event_id);

-- The messages event_index recorded (each the first copy of its event_id) become
-- uncontested claims. Run again after an interruption, this inserts the same rows
-- again, which readers treat as one (they read distinct positions). event_index itself
-- is no longer read or written.
INSERT INTO event_claims (event_id, channel, kafka_partition, kafka_offset, uncontested,
                          office_id, at_us)
SELECT
    event_id,
    multiIf(endsWith(kafka_topic, 'kiosk.v1'), 'kiosk', endsWith(kafka_topic, 'qr.v1'), 'qr',
            'camera'),
    kafka_partition,
    kafka_offset,
    1,
    '',  -- not recorded by event_index; needed only to refresh a contested id's buckets,
    0    -- and an id landed before 0008 has one claim
FROM event_index;

-- Misuse flags that can be cleared. kiosk_misuse only ever grew: a flag was never wrong
-- while the first copy of an event always counted. With two workers landing copies at
-- once, the copy that counts can change, and a press's predecessor with it; each flag
-- row now carries misuse 0/1 and the version of its bucket, and the newest row wins.
CREATE TABLE IF NOT EXISTS kiosk_misuse_flags
(
    event_id        UUID,
    office_id       String,
    device_id       String,
    occurred_at_us  Int64,
    misuse          UInt8,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (office_id, occurred_at_us, event_id);

-- The flags kiosk_misuse holds (run again after an interruption: identical rows, merged).
INSERT INTO kiosk_misuse_flags (event_id, office_id, device_id, occurred_at_us, misuse,
                                version)
SELECT event_id, office_id, device_id, occurred_at_us, 1, 0
FROM kiosk_misuse;

-- The view of 0003, the same columns, its misuse flag from kiosk_misuse_flags.
DROP TABLE IF EXISTS kiosk_ratings;

CREATE VIEW IF NOT EXISTS kiosk_ratings AS
SELECT
    event_id, office_id, device_id, counter_id, staff_id, procedure_code, dossier_id,
    occurred_at, occurred_at_us, scale, value,
    value >= scale - 1 AS satisfied,
    event_id IN (SELECT event_id FROM kiosk_misuse_flags FINAL WHERE misuse = 1) AS misuse
FROM kiosk_ratings_raw FINAL;
