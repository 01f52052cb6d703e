-- Hourly QR submissions: counted (Q_n) and duplicates, for the ranges of qr_rows.sql.
-- version as in kiosk_buckets.sql: Σ over the bucket's submissions of their weight (the
-- claims and owned rows that decide whether they count) * 2^24 + a 24-bit hash of them.
SELECT
    office_id,
    hour,
    countIf(counted) AS q_n,
    countIf(owned AND NOT counted) AS q_duplicates,
    sum(weight) * 16777216 + modulo(sum(weight_hash), 16777216) AS version
FROM
(
@include qr_rows
) AS submissions
GROUP BY office_id, hour
ORDER BY office_id, hour
