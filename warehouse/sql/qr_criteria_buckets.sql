-- Hourly per-criterion QR counts: a_c (answers of counted submissions) and s_c (of them
-- 4 or 5), for the ranges of qr_rows.sql. A criterion answered only by duplicates gets
-- a row with zeros, so a count that drops (a late, earlier submission of the same token)
-- replaces the old row. version as in qr_buckets.sql, over the rows with the criterion.
SELECT
    office_id,
    hour,
    questionnaire,
    aspect,
    criterion,
    countIf(counted) AS answered,
    countIf(counted AND answer >= 4) AS satisfied,
    sum(weight) * 16777216 + modulo(sum(weight_hash), 16777216) AS version
FROM
(
@include qr_rows
) AS submissions
ARRAY JOIN answer_codes AS criterion, answer_aspects AS aspect, answer_values AS answer
GROUP BY office_id, hour, questionnaire, aspect, criterion
ORDER BY office_id, hour, questionnaire, aspect, criterion
