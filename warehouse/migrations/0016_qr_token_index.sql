-- 0016: the QR submissions of a token, found without reading the office's history
-- (issue 17).
--
-- A QR bucket counts a token's earliest submission only, and a token's submissions may
-- lie in other hours, so a refresh reads every submission of the tokens it sees
-- (warehouse/sql/qr_rows.sql). qr_surveys_raw is sorted by (office, time): that read
-- scanned each touched office's whole QR history, every batch. This table holds the
-- same rows' positions sorted by (office, token), so the read is a few granules per
-- token whatever the history. Plain MergeTree: it keeps every row raw ever received
-- (copies and replays included); the readers keep one row per raw key, as they do
-- reading raw itself.
CREATE TABLE IF NOT EXISTS qr_token_index
(
    office_id        String,
    token_id         String,
    submitted_at_us  Int64,
    event_id         UUID,
    kafka_partition  UInt32,
    kafka_offset     UInt64
)
ENGINE = MergeTree
ORDER BY (office_id, token_id, submitted_at_us, event_id)
-- A refresh asks for a few thousand tokens scattered over the offices' history: each
-- reads a granule, so small granules (measured with 7.7M rows of history and 2,301
-- tokens: 484k rows read and 0.13 s at 256; 5.95M rows and 0.42 s at 8,192).
SETTINGS index_granularity = 256;

-- Every row written to raw from now on (in the same INSERT).
CREATE MATERIALIZED VIEW IF NOT EXISTS qr_token_index_mv TO qr_token_index AS
SELECT office_id, token_id, submitted_at_us, event_id, kafka_partition, kafka_offset
FROM qr_surveys_raw;

-- The rows raw held before (a row inserted meanwhile may be here twice: one raw key).
INSERT INTO qr_token_index
SELECT office_id, token_id, submitted_at_us, event_id, kafka_partition, kafka_offset
FROM qr_surveys_raw;
