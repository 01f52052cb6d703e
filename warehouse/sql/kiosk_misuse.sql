-- The misuse flags of the presses in the office ranges of kiosk_presses.sql (same
-- parameters), for the table kiosk_misuse_flags: a row (misuse = 1) for every press
-- flagged now, and a row (misuse = 0) for every press flagged before that is not any
-- more (its predecessor stopped counting, or it did: a copy's owner changed). Each
-- carries the version of its own-hour bucket (as kiosk_buckets.sql computes it): a flag
-- depends only on presses in that bucket's scope, so the newest flag wins.
SELECT
    tupleElement(f, 1) AS event_id,
    office_id,
    tupleElement(f, 2) AS device_id,
    tupleElement(f, 3) AS occurred_at_us,
    tupleElement(f, 4) AS misuse,
    version
FROM
(
    SELECT
        office_id,
        bucket,
        sum(2 * claims + owned) * 16777216
            + modulo(sum(claims_hash + owned * cityHash64(toString(event_id))), 16777216)
            AS version,
        groupArrayIf((event_id, device_id, t, misuse),
                     member AND (misuse = 1 OR was_flagged = 1)) AS flags
    FROM
    (
@include kiosk_press_buckets
    ) AS press_rows
    GROUP BY office_id, bucket
) AS buckets
ARRAY JOIN flags AS f
