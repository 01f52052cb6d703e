-- The misuse flags of the presses in the office ranges of kiosk_presses.sql (same
-- parameters), for the table kiosk_misuse_flags: a row (misuse = 1) for every press
-- flagged now, and a row (misuse = 0) for every press flagged before that is not any
-- more (its predecessor stopped counting, or it did: a copy's owner changed). Each
-- carries the version of its own-hour bucket (kiosk_scope.sql), so the newest wins.
SELECT event_id, office_id, device_id, occurred_at_us, misuse, version
FROM
(
    SELECT
        event_id, office_id, device_id, t AS occurred_at_us, misuse,
        toStartOfHour(toDateTime(intDiv(t, 1000000), 'UTC')) AS hour
    FROM
    (
        SELECT event_id, office_id, device_id, t, misuse, office_start_us, office_end_us
        FROM
        (
@include kiosk_presses
        ) AS owned_presses
        UNION ALL
        SELECT event_id, office_id, device_id, occurred_at_us AS t, toUInt8(0) AS misuse,
               arrayElement(%(start_us)s, indexOf(%(offices)s, office_id)) AS office_start_us,
               arrayElement(%(end_us)s, indexOf(%(offices)s, office_id)) AS office_end_us
        FROM
        (
@include kiosk_candidates
        ) AS candidates
        WHERE NOT owned
    ) AS presses
    ANY LEFT JOIN
    (
        SELECT event_id, occurred_at_us AS t, toUInt8(1) AS was_flagged
        FROM kiosk_misuse_flags FINAL
        WHERE office_id IN %(office_set)s
          AND occurred_at_us >= %(lo_us)s AND occurred_at_us < %(hi_us)s
          AND misuse = 1
    ) AS before USING (event_id, t)
    WHERE t >= office_start_us AND t < office_end_us AND (misuse = 1 OR was_flagged = 1)
) AS flags
ANY LEFT JOIN
(
@include kiosk_scope
) AS scope USING (office_id, hour)
