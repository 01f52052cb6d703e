-- Each office's kiosk counts over a trailing window ending now, with its unit.
-- Parameters: since_s: the window's start, UTC epoch seconds (bucket hours >= it).
SELECT
    office_id,
    office_name,
    unit_code,
    k_n,
    k_sat
FROM
(
    SELECT office_id, name AS office_name, unit_code
    FROM offices FINAL
    WHERE valid_to IS NULL OR valid_to >= today()
) AS office_list
ANY LEFT JOIN
(
    SELECT office_id, sum(k_n) AS k_n, sum(k_sat) AS k_sat
    FROM kiosk_hourly FINAL
    WHERE hour >= toDateTime(%(since_s)s)
    GROUP BY office_id
) AS office_counts USING (office_id)
ORDER BY office_id
