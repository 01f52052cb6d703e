-- Hourly camera counts for office ranges (parameters as in kiosk_presses.sql).
-- Sentiment counts only with confidence >= 0.6 (C_n, C_pos); queue observations are
-- summed for reporting beside the index. version = distinct events in the bucket.
SELECT
    office_id,
    toStartOfHour(observed_at) AS hour,
    countIf(kind = 'sentiment' AND confident) AS c_n,
    countIf(kind = 'sentiment' AND confident AND ifNull(sentiment, '') = 'positive') AS c_pos,
    countIf(kind = 'sentiment' AND NOT confident) AS c_low_confidence,
    countIf(kind = 'queue') AS queue_obs,
    toUInt64(sumIf(ifNull(queue_length, 0), kind = 'queue')) AS queue_length_sum,
    toUInt64(maxIf(ifNull(queue_length, 0), kind = 'queue')) AS queue_length_max,
    countIf(kind = 'queue' AND isNotNull(wait_seconds)) AS wait_obs,
    toFloat64(sumIf(ifNull(wait_seconds, 0), kind = 'queue')) AS wait_seconds_sum,
    count() AS version
FROM
(
    SELECT event_id, office_id, observed_at, kind, sentiment, queue_length, wait_seconds,
           ifNull(confidence, 0) >= 0.6 AS confident  -- not Nullable: 18.16's countIf wants that
    FROM camera_observations_raw
    WHERE office_id IN %(office_set)s
      AND observed_at_us >= %(lo_us)s AND observed_at_us < %(hi_us)s
      AND observed_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
      AND observed_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
    ORDER BY kafka_partition, kafka_offset
    LIMIT 1 BY event_id
) AS observations
GROUP BY office_id, hour
ORDER BY office_id, hour
