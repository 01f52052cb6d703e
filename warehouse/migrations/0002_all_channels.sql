-- 0002: the QR and camera channels, kiosk misuse flags, the OSI weights in force, and
-- the views city IT reads. Every statement is idempotent.

-- Presses flagged misuse (methodology v1). A flag can only ever be set, never cleared:
-- a late press can only bring a press's predecessor closer. So this table only grows.
CREATE TABLE IF NOT EXISTS kiosk_misuse
(
    event_id        UUID,
    office_id       String,
    device_id       String,
    occurred_at_us  Int64
)
ENGINE = ReplacingMergeTree
ORDER BY (office_id, occurred_at_us, event_id);

-- Every valid qr_survey/1, as received (the comment scrubbed of personal data).
-- Answers are parallel arrays; answer_aspects holds each criterion's aspect, taken from
-- the questionnaire when the survey was landed.
CREATE TABLE IF NOT EXISTS qr_surveys_raw
(
    event_id         UUID,
    token_id         String,
    office_id        String,
    submitted_at     DateTime('UTC'),
    submitted_at_us  Int64,
    questionnaire    String,
    answer_codes     Array(String),
    answer_aspects   Array(String),
    answer_values    Array(UInt8),
    overall          Nullable(UInt8),
    comment          Nullable(String),
    procedure_code   Nullable(String),
    dossier_id       Nullable(String),
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(submitted_at)
ORDER BY (office_id, submitted_at_us, event_id);

-- QR submissions per office and UTC hour: counted (Q_n) and duplicate tokens.
-- version = the number of raw submissions that decide the bucket (its own and the other
-- submissions of its tokens); it only grows, so the newest row wins.
CREATE TABLE IF NOT EXISTS qr_hourly
(
    office_id     String,
    hour          DateTime('UTC'),
    q_n           UInt64,
    q_duplicates  UInt64,
    version       UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (office_id, hour);

-- Per criterion: a_c answers and s_c of them satisfied (4 or 5), counted submissions only.
CREATE TABLE IF NOT EXISTS qr_criteria_hourly
(
    office_id      String,
    hour           DateTime('UTC'),
    questionnaire  String,
    aspect         String,
    criterion      String,
    answered       UInt64,
    satisfied      UInt64,
    version        UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (office_id, hour, questionnaire, aspect, criterion);

-- Every valid camera_observation/1 (derived signals only: the contract has no images).
CREATE TABLE IF NOT EXISTS camera_observations_raw
(
    event_id         UUID,
    office_id        String,
    camera_id        String,
    observed_at      DateTime('UTC'),
    observed_at_us   Int64,
    kind             String,
    sentiment        Nullable(String),
    confidence       Nullable(Float64),
    track_id         Nullable(String),
    queue_length     Nullable(UInt32),
    wait_seconds     Nullable(Float64),
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    version          UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(observed_at)
ORDER BY (office_id, observed_at_us, event_id);

-- Camera counts per office and UTC hour. C_n/C_pos: sentiments with confidence >= 0.6;
-- queue figures are reported beside the index, never in it.
CREATE TABLE IF NOT EXISTS camera_hourly
(
    office_id         String,
    hour              DateTime('UTC'),
    c_n               UInt64,
    c_pos             UInt64,
    c_low_confidence  UInt64,
    queue_obs         UInt64,
    queue_length_sum  UInt64,
    queue_length_max  UInt64,
    wait_obs          UInt64,
    wait_seconds_sum  Float64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
PARTITION BY toYYYYMM(hour)
ORDER BY (office_id, hour);

-- The OSI weights in force from a time on (written by `hailong migrate` from settings).
CREATE TABLE IF NOT EXISTS index_weights
(
    valid_from  DateTime('UTC'),
    qr          Float64,
    kiosk       Float64,
    camera      Float64
)
ENGINE = MergeTree
ORDER BY valid_from;
