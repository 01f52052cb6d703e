-- Hourly kiosk counts (K_n, K_sat, misuse presses) recomputed from raw for the office
-- ranges of kiosk_presses.sql (same parameters).
-- A bucket's inputs are the presses in its scope (its own and those of the 4 s before
-- it) and their event_ids' candidate claims. version = Σ over the presses in scope of
-- (2 × their id's candidate claims + 1 if owned), × 2^24, + a 24-bit hash of that view:
-- it grows with every input that can change the bucket (a new candidate claim adds 2 and
-- can take at most the 1 of an owned row away; an owner's row landing adds 1), so the
-- newest row wins, and two workers that refresh one bucket from different partial views
-- at once write different versions, not a tie. A bucket whose presses no longer count
-- (a copy's owner changed) is written with zeros.
SELECT
    office_id,
    bucket AS hour,
    countIf(member AND owned AND NOT misuse) AS k_n,
    countIf(member AND owned AND NOT misuse AND satisfied) AS k_sat,
    countIf(member AND owned AND misuse) AS k_misuse,
    sum(2 * claims + owned) * 16777216
        + modulo(sum(claims_hash + owned * cityHash64(toString(event_id))), 16777216)
        AS version
FROM
(
@include kiosk_press_buckets
) AS press_rows
GROUP BY office_id, bucket
HAVING countIf(member) > 0
ORDER BY office_id, hour
