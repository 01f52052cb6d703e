-- Every kiosk bucket (office, UTC hour) of the office ranges of kiosk_presses.sql (same
-- parameters) that holds a candidate press, with its version. A bucket's inputs are the
-- presses in its scope (its own and those of the 4 s before it) and their event_ids'
-- claims. version = Σ over the ids in scope of (2 × their candidate claims + 1 if the
-- owner's row is in scope), × 2^24, + a 24-bit hash of that view: it grows with every
-- input that can change the bucket (a new claim adds 2 and can take at most the 1 of an
-- owned row away; an owner's row landing adds 1), so the newest row wins, and two
-- workers that refresh one bucket from different partial views at once write different
-- versions, not a tie. The misuse flags of a bucket's presses take its version too: a
-- flag depends only on presses in that scope.
SELECT office_id, hour, scope_weight * 16777216 + modulo(scope_hash, 16777216) AS version
FROM
(
    SELECT office_id, bucket AS hour, sum(2 * claims + owned) AS scope_weight,
           sum(claims_hash + owned * cityHash64(toString(event_id))) AS scope_hash
    FROM
    (
        SELECT
            office_id,
            event_id,
            owned,
            claims,
            claims_hash,
            arrayElement(%(start_us)s, indexOf(%(offices)s, office_id)) AS office_start_us,
            arrayElement(%(end_us)s, indexOf(%(offices)s, office_id)) AS office_end_us,
            toStartOfHour(toDateTime(intDiv(occurred_at_us, 1000000), 'UTC')) AS own_hour,
            arrayJoin(arrayDistinct([
                own_hour,
                toStartOfHour(toDateTime(intDiv(occurred_at_us + 4000000, 1000000), 'UTC'))
            ])) AS bucket,
            bucket = own_hour AS member
        FROM
        (
@include kiosk_candidates
        ) AS candidates
    ) AS scope_rows
    WHERE toInt64(toUInt32(bucket)) * 1000000 >= office_start_us
      AND toInt64(toUInt32(bucket)) * 1000000 < office_end_us
    GROUP BY office_id, bucket
    HAVING countIf(member) > 0
) AS scope_weights
