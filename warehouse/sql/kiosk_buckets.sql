-- Hourly kiosk counts (K_n, K_sat, misuse presses) recomputed from raw for the office
-- ranges of kiosk_presses.sql (same parameters).
-- A bucket's inputs are the presses in its scope (its own and those of the 4 s before
-- it) and their event_ids' claims; both only grow. version = (claims of the ids in
-- scope) * 2^24 + (a 24-bit hash of those claims): it grows with every input that can
-- change the bucket, so the newest row wins, and two workers that refresh one bucket
-- from different partial views at once write different versions, not a tie. A bucket
-- whose presses no longer count (a copy's owner changed) is written with zeros.
SELECT
    office_id,
    hour,
    k_n,
    k_sat,
    k_misuse,
    scope_claims * 16777216 + modulo(scope_hash, 16777216) AS version
FROM
(
    SELECT office_id, bucket AS hour, sum(claims) AS scope_claims, sum(claims_hash) AS scope_hash
    FROM
    (
        SELECT
            office_id,
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
