-- QR submissions of the office ranges (parameters as in kiosk_presses.sql), each with
-- whether it counts: per token, only the earliest (submitted_at, event_id) counts; the
-- others are duplicates, kept for audit. A token's submissions may lie in other hours,
-- so all submissions of the tokens seen are read. token_total (submissions of the
-- row's token) feeds the bucket versions.
SELECT
    office_id,
    toStartOfHour(submitted_at) AS hour,
    event_id,
    questionnaire,
    answer_codes,
    answer_aspects,
    answer_values,
    (submitted_at_us, toString(event_id)) = token_first AS counted,
    token_total
FROM
(
    SELECT event_id, token_id, office_id, submitted_at, submitted_at_us, questionnaire,
           answer_codes, answer_aspects, answer_values
    FROM qr_surveys_raw
    WHERE office_id IN %(office_set)s
      AND submitted_at_us >= %(lo_us)s AND submitted_at_us < %(hi_us)s
      AND submitted_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
      AND submitted_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
    ORDER BY kafka_partition, kafka_offset
    LIMIT 1 BY event_id
) AS in_range
ANY LEFT JOIN
(
    SELECT
        office_id,
        token_id,
        arraySort(groupArray((submitted_at_us, toString(event_id))))[1] AS token_first,
        count() AS token_total
    FROM
    (
        SELECT event_id, token_id, office_id, submitted_at_us
        FROM qr_surveys_raw
        WHERE office_id IN %(office_set)s
          AND token_id IN
          (
              SELECT token_id FROM qr_surveys_raw
              WHERE office_id IN %(office_set)s
                AND submitted_at_us >= %(lo_us)s AND submitted_at_us < %(hi_us)s
          )
        ORDER BY kafka_partition, kafka_offset
        LIMIT 1 BY event_id
    ) AS siblings
    GROUP BY office_id, token_id
) AS tokens USING (office_id, token_id)
