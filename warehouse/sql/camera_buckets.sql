-- Hourly camera counts for office ranges (parameters as in kiosk_presses.sql).
-- Sentiment counts only with confidence >= 0.6 (C_n, C_pos); queue observations are
-- summed for reporting beside the index. Each event_id once: the owned copy (see
-- kiosk_candidates.sql). version as in kiosk_buckets.sql, over the bucket's events.
SELECT
    office_id,
    toStartOfHour(observed_at) AS hour,
    countIf(owned AND kind = 'sentiment' AND confident) AS c_n,
    countIf(owned AND kind = 'sentiment' AND confident
            AND ifNull(sentiment, '') = 'positive') AS c_pos,
    countIf(owned AND kind = 'sentiment' AND NOT confident) AS c_low_confidence,
    countIf(owned AND kind = 'queue') AS queue_obs,
    toUInt64(sumIf(ifNull(queue_length, 0), owned AND kind = 'queue')) AS queue_length_sum,
    toUInt64(maxIf(ifNull(queue_length, 0), owned AND kind = 'queue')) AS queue_length_max,
    countIf(owned AND kind = 'queue' AND isNotNull(wait_seconds)) AS wait_obs,
    toFloat64(sumIf(ifNull(wait_seconds, 0), owned AND kind = 'queue')) AS wait_seconds_sum,
    sum(2 * claims + owned) * 16777216
        + modulo(sum(claims_hash + owned * cityHash64(toString(event_id))), 16777216) AS version
FROM
(
    SELECT
        event_id, office_id, observed_at, observed_at_us, kind, sentiment, queue_length,
        wait_seconds, confident,
@include owned channel=camera
    FROM
    (
        SELECT event_id, office_id, observed_at, observed_at_us, kind, sentiment, queue_length,
               wait_seconds,
               ifNull(confidence, 0) >= 0.6 AS confident,  -- 18.16's countIf: not Nullable
               kafka_partition, kafka_offset
        FROM camera_observations_raw
@include camera_window
    ) AS raw
@include claims_head
@include contested_in_range
@include claims_tail
    ORDER BY owned DESC
    LIMIT 1 BY office_id, observed_at_us, event_id
) AS observations
GROUP BY office_id, hour
ORDER BY office_id, hour
