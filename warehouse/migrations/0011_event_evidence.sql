-- 0011: what an auditor needs to re-verify every counted event (issue 13): for each
-- message the worker landed with a device signature, the exact value bytes and the
-- signature (hailong/signing.py). `hailong audit verify` checks each raw row against
-- it (warehouse/evidence.py). Keyed by the Kafka message; a replay writes the same row.
CREATE TABLE IF NOT EXISTS event_evidence
(
    channel          String,                  -- kiosk | qr | camera
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    event_id         UUID,
    device_id        String,
    key_id           UInt32,
    signature        String,                  -- Ed25519, 64 bytes
    value            String                   -- the message value, exact bytes
)
ENGINE = ReplacingMergeTree
ORDER BY (channel, kafka_partition, kafka_offset);
