-- Hourly kiosk counts of methodology v1, recomputed from raw for some offices.
-- Parameters: offices Array(String) (office_set: the same as a tuple, for IN), and per office (same order) the first bucket
-- start_us and the exclusive end end_us, in microseconds since the epoch (UTC);
-- lo_us/hi_us are their min/max, for the primary-key range.
--
-- Misuse: per device, presses in order of (occurred_at, event_id); a press less than
-- 4 s after the previous press of that device (counted or not) is misuse. Presses of
-- the 4 s before a bucket are read too, as predecessors only.
-- version = number of distinct events that determine the bucket (its own presses and
-- those of the 4 s before it): it only grows as raw grows, so the newest row wins.
-- Plain arrays instead of window functions: ClickHouse 18.16 has none.
SELECT
    office_id,
    bucket AS hour,
    countIf(member AND NOT misuse) AS k_n,
    countIf(member AND NOT misuse AND satisfied) AS k_sat,
    countIf(member AND misuse) AS k_misuse,
    count() AS version
FROM
(
    SELECT
        office_id,
        tupleElement(p, 3) AS satisfied,
        m AS misuse,
        toStartOfHour(toDateTime(intDiv(tupleElement(p, 1), 1000000), 'UTC')) AS own_hour,
        arrayJoin(arrayDistinct([
            own_hour,
            toStartOfHour(toDateTime(intDiv(tupleElement(p, 1) + 4000000, 1000000), 'UTC'))
        ])) AS bucket,
        bucket = own_hour AS member,
        arrayElement(%(start_us)s, indexOf(%(offices)s, office_id)) AS office_start_us,
        arrayElement(%(end_us)s, indexOf(%(offices)s, office_id)) AS office_end_us
    FROM
    (
        SELECT
            office_id,
            device_id,
            arraySort(groupArray((occurred_at_us, toString(event_id), value >= scale - 1))) AS ps,
            arrayMap(i -> i > 1 AND tupleElement(ps[i], 1) - tupleElement(ps[i - 1], 1) < 4000000,
                     arrayEnumerate(ps)) AS ms
        FROM
        (
            -- each event_id once: the copy from the earliest Kafka offset
            SELECT event_id, office_id, device_id, occurred_at_us, value, scale
            FROM kiosk_ratings_raw
            WHERE office_id IN %(office_set)s
              AND occurred_at_us >= %(lo_us)s - 4000000
              AND occurred_at_us < %(hi_us)s
            ORDER BY kafka_partition, kafka_offset
            LIMIT 1 BY event_id
        )
        GROUP BY office_id, device_id
    )
    ARRAY JOIN ps AS p, ms AS m
)
WHERE toInt64(toUInt32(bucket)) * 1000000 >= office_start_us
  AND toInt64(toUInt32(bucket)) * 1000000 < office_end_us
GROUP BY office_id, bucket
HAVING countIf(member) > 0
ORDER BY office_id, hour
