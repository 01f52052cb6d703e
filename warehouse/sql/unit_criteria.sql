-- Per-criterion QR counts (a_c, s_c) of every unit for one ranking period, summed over
-- its offices. Parameters as in unit_counts.sql.
-- LEFT, not INNER: ANY INNER JOIN keeps one left row per key on the 18.16 server.
SELECT
    unit_code,
    questionnaire,
    aspect,
    criterion,
    sum(answered) AS answered,
    sum(satisfied) AS satisfied
FROM
(
    SELECT office_id, questionnaire, aspect, criterion, answered, satisfied
    FROM qr_criteria_hourly FINAL
    WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
) AS criteria
ANY LEFT JOIN
(
@include office_units
) AS office_units USING (office_id)
WHERE unit_code != ''  -- offices not registered in the period
GROUP BY unit_code, questionnaire, aspect, criterion
ORDER BY unit_code, questionnaire, aspect, criterion
