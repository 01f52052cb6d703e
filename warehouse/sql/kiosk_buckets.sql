-- Hourly kiosk counts (K_n, K_sat, misuse presses) recomputed from raw for the office
-- ranges of kiosk_presses.sql (same parameters), with the version of kiosk_scope.sql.
-- A bucket whose presses no longer count (a copy's owner changed) is written with zeros.
SELECT office_id, hour, k_n, k_sat, k_misuse, version
FROM
(
@include kiosk_scope
) AS scope
ANY LEFT JOIN
(
    SELECT
        office_id,
        bucket AS hour,
        countIf(member AND NOT misuse) AS k_n,
        countIf(member AND NOT misuse AND satisfied) AS k_sat,
        countIf(member AND misuse) AS k_misuse
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
    ) AS press_rows
    WHERE toInt64(toUInt32(bucket)) * 1000000 >= office_start_us
      AND toInt64(toUInt32(bucket)) * 1000000 < office_end_us
    GROUP BY office_id, bucket
) AS content USING (office_id, hour)
ORDER BY office_id, hour
