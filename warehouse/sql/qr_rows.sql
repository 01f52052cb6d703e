-- QR submissions of the office ranges (parameters as in kiosk_presses.sql), one row per
-- raw key (the owned copy first, see kiosk_candidates.sql), each with whether it
-- counts: per token, only the earliest (submitted_at, event_id) of the owned submissions
-- counts; the others are duplicates, kept for audit. A token's submissions may lie in
-- other hours, so all submissions of the tokens seen are read (from qr_token_index,
-- sorted by office and token: migration 0016). `weight` (as in
-- kiosk_buckets.sql, over the row's event_id and its token's submissions) and
-- `weight_hash` feed the bucket versions: they grow with every input that can change
-- whether a row counts.
SELECT
    office_id,
    toStartOfHour(submitted_at) AS hour,
    event_id,
    questionnaire,
    answer_codes,
    answer_aspects,
    answer_values,
    owned AND (submitted_at_us, toString(event_id)) = token_first AS counted,
    owned,
    2 * claims + owned + token_weight AS weight,
    claims_hash + owned * cityHash64(toString(event_id)) + token_hash AS weight_hash
FROM
(
    SELECT
        event_id, token_id, office_id, submitted_at, submitted_at_us, questionnaire,
        answer_codes, answer_aspects, answer_values,
@include owned channel=qr
    FROM
    (
        SELECT event_id, token_id, office_id, submitted_at, submitted_at_us, questionnaire,
               answer_codes, answer_aspects, answer_values, kafka_partition, kafka_offset
        FROM qr_surveys_raw
@include qr_window
    ) AS raw
@include claims_head
@include contested_in_range
@include claims_tail
    ORDER BY owned DESC
    LIMIT 1 BY office_id, submitted_at_us, event_id
) AS in_range
ANY LEFT JOIN
(
    SELECT
        office_id,
        token_id,
        arraySort(groupArrayIf((submitted_at_us, toString(event_id)), owned))[1] AS token_first,
        sum(2 * claims + owned) AS token_weight,
        sum(claims_hash + owned * cityHash64(toString(event_id))) AS token_hash
    FROM
    (
        SELECT
            event_id, token_id, office_id, submitted_at_us,
@include owned channel=qr
        FROM
        (
            SELECT event_id, token_id, office_id, submitted_at_us, kafka_partition,
                   kafka_offset
            FROM qr_token_index
@include qr_token_window
        ) AS raw
@include claims_head
            SELECT event_id FROM contested_events WHERE office_id IN %(office_set)s
@include claims_tail
        ORDER BY owned DESC
        LIMIT 1 BY office_id, submitted_at_us, event_id
    ) AS siblings
    GROUP BY office_id, token_id
) AS tokens USING (office_id, token_id)
