-- 0001: the walking skeleton's tables: raw kiosk ratings, hourly kiosk counts, the
-- unit/office registry and the ranking table. Every statement is idempotent.

-- Every valid kiosk_rating/1, as received. Rows are never updated; a resent event
-- (same event_id, same office and time) collapses to one row. `version` makes the copy
-- from the earliest Kafka offset win, so a replay writes rows identical to the first.
CREATE TABLE IF NOT EXISTS kiosk_ratings_raw
(
    event_id        UUID,
    office_id       String,
    device_id       String,
    counter_id      Nullable(String),
    staff_id        Nullable(String),
    procedure_code  Nullable(String),
    dossier_id      Nullable(String),
    occurred_at     DateTime('UTC'),          -- whole seconds, for people and partitions
    occurred_at_us  Int64,                    -- exact, microseconds since the epoch, UTC
    scale           UInt8,
    value           UInt8,
    kafka_partition UInt32,
    kafka_offset    UInt64,
    version         UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (office_id, occurred_at_us, event_id);

-- Hourly kiosk counts per office (methodology v1: K_n, K_sat; misuse presses apart).
-- Each row is recomputed from raw by the stream worker; `version` is the number of raw
-- events that determine the bucket, which only grows, so the newest row wins.
CREATE TABLE IF NOT EXISTS kiosk_hourly
(
    office_id  String,
    hour       DateTime('UTC'),              -- UTC hour of the presses' own timestamps
    k_n        UInt64,                        -- counted ratings
    k_sat      UInt64,                        -- counted ratings in the top two levels
    k_misuse   UInt64,                        -- presses flagged misuse (not counted)
    version    UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (office_id, hour);

-- Administrative units (GSO codes). A code can be reused by a new unit (2025 merger),
-- so a unit is identified by (code, valid_from).
CREATE TABLE IF NOT EXISTS units
(
    code        String,
    name        String,
    type        String,
    level       String,                       -- city | district | ward | commune | department
    parent_code String,
    valid_from  Date,
    valid_to    Nullable(Date),               -- inclusive; NULL = still valid
    version     UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (code, valid_from);

-- One-stop offices and the unit each belongs to, over time.
CREATE TABLE IF NOT EXISTS offices
(
    office_id        String,
    name             String,
    unit_code        String,
    unit_valid_from  Date,
    valid_from       Date,
    valid_to         Nullable(Date),          -- inclusive; NULL = still valid
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (office_id, valid_from);

-- Published rankings: one partition per period; a re-run replaces its partition.
CREATE TABLE IF NOT EXISTS rankings
(
    period              String,               -- '2026-11' (month) or '2026' (year)
    peer_group          String,
    unit_code           String,
    unit_name           String,
    offices             UInt32,
    k_n                 UInt64,
    k_sat               UInt64,
    q_n                 UInt64,
    s_kiosk             Nullable(Float64),
    s_qr                Nullable(Float64),
    s_camera            Nullable(Float64),
    score               Nullable(Float64),    -- OSI at full precision
    eligible            UInt8,
    reason              String,               -- why unranked; '' when ranked
    rank                Nullable(UInt32),
    n_ranked            UInt32,
    weights             String,               -- JSON, as used
    min_sample          UInt32,
    methodology_version String,
    computed_at         DateTime('UTC'),
    input_checksum      String                -- sha256 of the unit counts ranked
)
ENGINE = MergeTree
PARTITION BY period
ORDER BY (peer_group, unit_code);
