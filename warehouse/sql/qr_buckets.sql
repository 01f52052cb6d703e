-- Hourly QR submissions: counted (Q_n) and duplicates, for the ranges of qr_rows.sql.
-- version = Σ over the bucket's submissions of their token's submission count: it grows
-- with every submission that can change the bucket, so the newest row wins.
SELECT
    office_id,
    hour,
    countIf(counted) AS q_n,
    countIf(NOT counted) AS q_duplicates,
    sum(token_total) AS version
FROM
(
@include qr_rows
) AS submissions
GROUP BY office_id, hour
ORDER BY office_id, hour
