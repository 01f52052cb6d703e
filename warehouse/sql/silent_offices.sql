-- Offices registered in a unit on the period's last day that sent nothing at all in the
-- period: no kiosk press (counted or misuse), no QR submission (counted or duplicate),
-- no camera observation. Ranking such a unit would silently average fewer offices.
-- Parameters: start_s, end_s (UTC epoch seconds, [start, end)), last_day.
SELECT office_id, unit_code
FROM
(
@include office_units
) AS office_units
ANY LEFT JOIN
(
    SELECT office_id, sum(n) AS events
    FROM
    (
        SELECT office_id, k_n + k_misuse AS n
        FROM kiosk_hourly FINAL
        WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
        UNION ALL
        SELECT office_id, q_n + q_duplicates
        FROM qr_hourly FINAL
        WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
        UNION ALL
        SELECT office_id, c_n + c_low_confidence + queue_obs
        FROM camera_hourly FINAL
        WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
    ) AS channel_events
    GROUP BY office_id
) AS activity USING (office_id)
WHERE events = 0
ORDER BY office_id
