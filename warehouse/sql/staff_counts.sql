-- Per civil servant (staff_id of the kiosk ratings) and office: counted presses in one
-- period (misuse excluded, each event_id once: its owned copy, see kiosk_candidates.sql) and how many were satisfied (top two levels).
-- Parameters: start_s/end_s (UTC epoch seconds, [start, end)), start_us/end_us (the same
-- in microseconds), last_day (the period's last local day, for the office's unit).
SELECT office_id, unit_code, staff_id, k_n, k_sat
FROM
(
    SELECT office_id, staff AS staff_id, count() AS k_n, sum(satisfied) AS k_sat
    FROM
    (
        -- `staff`, not `staff_id`: an alias would shadow the column in WHERE on 18.16
        SELECT event_id, office_id, assumeNotNull(staff_id) AS staff,
               toUInt64(value >= scale - 1) AS satisfied,
               contested = 0 OR (tupleElement(owner, 1) = 'kiosk'
                                 AND tupleElement(owner, 2) = kafka_offset
                                 AND tupleElement(owner, 3) = kafka_partition) AS owned
        FROM
        (
            SELECT event_id, office_id, staff_id, value, scale, kafka_partition, kafka_offset
            FROM kiosk_ratings_raw
            WHERE occurred_at >= toDateTime(%(start_s)s) AND occurred_at < toDateTime(%(end_s)s)
              AND isNotNull(staff_id)
        ) AS raw
@include claims_head
            SELECT event_id FROM contested_events
            WHERE at_us >= %(start_us)s AND at_us < %(end_us)s
@include claims_tail
        ORDER BY owned DESC
        LIMIT 1 BY event_id
    ) AS presses
    ANY LEFT JOIN
    (
        SELECT event_id, toUInt8(1) AS flagged
        FROM kiosk_misuse_flags FINAL
        WHERE occurred_at_us >= %(start_us)s AND occurred_at_us < %(end_us)s AND misuse = 1
    ) AS misuse USING (event_id)
    WHERE flagged = 0 AND owned
    GROUP BY office_id, staff
) AS staff
ANY LEFT JOIN
(
@include office_units
) AS office_units USING (office_id)
ORDER BY office_id, staff_id
