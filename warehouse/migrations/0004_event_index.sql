-- 0004: the global "each event_id once" (methodology v1). The stream worker records the
-- Kafka message of the first copy of every event it lands; a later copy of the same
-- event_id (a device resending, or reusing an id with other content) is not landed
-- again. ORDER BY event_id: the worker looks batches up by primary key.
CREATE TABLE IF NOT EXISTS event_index
(
    event_id         UUID,
    kafka_topic      String,
    kafka_partition  UInt32,
    kafka_offset     UInt64
)
ENGINE = ReplacingMergeTree
ORDER BY event_id;
