-- Each press of kiosk_presses.sql (same parameters) in every bucket it belongs to: its
-- own hour (member = 1) and, for a press in the last 4 s of its hour, the next hour,
-- whose first press it may make misuse (member = 0); only buckets in the office's range.
SELECT *
FROM
(
    SELECT
        office_id, device_id, event_id, t, satisfied, owned, claims, claims_hash, misuse,
        was_flagged, office_start_us, office_end_us,
        toStartOfHour(toDateTime(intDiv(t, 1000000), 'UTC')) AS own_hour,
        arrayJoin(arrayDistinct([
            own_hour, toStartOfHour(toDateTime(intDiv(t + 4000000, 1000000), 'UTC'))
        ])) AS bucket,
        bucket = own_hour AS member
    FROM
    (
        SELECT
            office_id, device_id, event_id, t, satisfied, owned, claims, claims_hash, misuse,
            office_start_us, office_end_us
        FROM
        (
@include kiosk_presses
        ) AS presses
    ) AS presses
    ANY LEFT JOIN
    (
        -- the presses flagged misuse before: a flag that no longer holds is cleared
        SELECT event_id, occurred_at_us AS t, toUInt8(1) AS was_flagged
        FROM kiosk_misuse_flags FINAL
        WHERE office_id IN %(office_set)s
          AND occurred_at_us >= %(lo_us)s AND occurred_at_us < %(hi_us)s
          AND misuse = 1
    ) AS before USING (event_id, t)
) AS press_rows
WHERE toInt64(toUInt32(bucket)) * 1000000 >= office_start_us
  AND toInt64(toUInt32(bucket)) * 1000000 < office_end_us
