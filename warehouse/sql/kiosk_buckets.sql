-- Hourly kiosk counts (K_n, K_sat, misuse presses) recomputed from raw for the office
-- ranges of kiosk_presses.sql (same parameters).
-- version = number of distinct events that determine the bucket: its own presses and
-- those of the 4 s before it. It only grows as raw grows, so the newest row wins.
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
        satisfied,
        misuse,
        office_start_us,
        office_end_us,
        toStartOfHour(toDateTime(intDiv(t, 1000000), 'UTC')) AS own_hour,
        arrayJoin(arrayDistinct([
            own_hour, toStartOfHour(toDateTime(intDiv(t + 4000000, 1000000), 'UTC'))
        ])) AS bucket,
        bucket = own_hour AS member
    FROM
    (
@include kiosk_presses
    ) AS presses
)
WHERE toInt64(toUInt32(bucket)) * 1000000 >= office_start_us
  AND toInt64(toUInt32(bucket)) * 1000000 < office_end_us
GROUP BY office_id, bucket
HAVING countIf(member) > 0
ORDER BY office_id, hour
