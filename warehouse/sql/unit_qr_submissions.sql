-- The counted QR submissions of every unit in one ranking period, one row each, for the
-- bootstrap intervals (pipelines/bootstrap.py). The same events as the ranking's QR counts
-- (qr_hourly, qr_criteria_hourly via unit_criteria.sql):
-- * each event_id once: its owned copy (kiosk_candidates.sql);
-- * per (office, token), only the earliest (submitted_at_us, event_id) of all time
--   counts, as in qr_rows.sql;
-- * in the period: the UTC hour of submitted_at in [start_s, end_s), as the buckets;
-- * the office's unit as in unit_counts.sql and unit_criteria.sql (office_units.sql);
-- * an answer is satisfied at 4 or 5 (methodology v1), as in qr_criteria_buckets.sql.
-- Parameters as in unit_counts.sql (start_s, end_s, last_day), and offices: the offices
-- whose submissions to read (a tuple; the caller reads a month a few units at a time, as
-- one query over millions of submissions exceeds ClickHouse's memory limit per query).
-- Returns unit_code, questionnaire, and the parallel arrays answer_aspects,
-- answer_codes, answer_satisfied (1: 4 or 5, else 0).
-- No window functions (18.16); LEFT, not INNER joins (18.16's ANY INNER JOIN keeps one
-- left row per key); every join subquery has an alias (current ClickHouse).
SELECT
    unit_code,
    questionnaire,
    answer_aspects,
    answer_codes,
    answer_satisfied
FROM
(
    SELECT
        office_id,
        submitted_at_us,
        event_key,
        questionnaire,
        answer_aspects,
        answer_codes,
        arrayMap(v -> toUInt8(v >= 4), answer_values) AS answer_satisfied,
        (submitted_at_us, event_key) = token_first AS counted
    FROM
    (
        SELECT office_id, token_id, submitted_at_us, event_key, questionnaire,
               answer_aspects, answer_codes, answer_values
        FROM
        (
            SELECT event_id, office_id, token_id, submitted_at_us, toString(event_id) AS event_key,
                   questionnaire, answer_aspects, answer_codes, answer_values,
@include owned channel=qr
            FROM
            (
                SELECT event_id, office_id, token_id, submitted_at_us, questionnaire,
                       answer_aspects, answer_codes, answer_values, kafka_partition,
                       kafka_offset
                FROM qr_surveys_raw
@include qr_period_window
            ) AS raw
@include claims_head
            SELECT event_id FROM contested_events WHERE office_id IN %(offices)s
@include claims_tail
        ) AS candidates
        WHERE owned
        LIMIT 1 BY event_key
    ) AS in_period
    ANY LEFT JOIN
    (
        SELECT
            office_id,
            token_id,
            arraySort(groupArray((submitted_at_us, toString(event_id))))[1] AS token_first
        FROM
        (
            SELECT event_id, token_id, office_id, submitted_at_us,
@include owned channel=qr
            FROM
            (
                SELECT event_id, token_id, office_id, submitted_at_us, kafka_partition,
                       kafka_offset
                FROM qr_surveys_raw
@include qr_period_token_window
            ) AS raw
@include claims_head
            SELECT event_id FROM contested_events WHERE office_id IN %(offices)s
@include claims_tail
        ) AS siblings
        WHERE owned
        GROUP BY office_id, token_id
    ) AS tokens USING (office_id, token_id)
) AS submissions
ANY LEFT JOIN
(
@include office_units
) AS office_units USING (office_id)
WHERE counted AND unit_code != ''  -- offices not registered in the period
ORDER BY unit_code, submitted_at_us, event_key
