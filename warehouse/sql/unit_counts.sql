-- Counts of every unit for one ranking period (methodology v1, "Rankings").
-- A unit's counts are the sums of its offices' counts in the period; an office belongs
-- to the unit it is registered under on the period's last day.
-- Subqueries carry aliases: current ClickHouse requires them in joins, 18.16 accepts them.
-- Parameters: start_s, end_s: the period's bounds as UTC epoch seconds ([start, end));
--             last_day: the period's last local day, 'YYYY-MM-DD'.
SELECT
    peer_group,
    unit_code,
    unit_name,
    offices,
    k_n,
    k_sat
FROM
(
    SELECT
        unit_code,
        unit_valid_from,
        count() AS offices,
        sum(office_k_n) AS k_n,
        sum(office_k_sat) AS k_sat
    FROM
    (
        SELECT office_id, unit_code, unit_valid_from
        FROM offices FINAL
        WHERE valid_from <= toDate(%(last_day)s)
          AND (valid_to IS NULL OR valid_to >= toDate(%(last_day)s))
    ) AS office_units
    ANY LEFT JOIN
    (
        SELECT office_id, sum(k_n) AS office_k_n, sum(k_sat) AS office_k_sat
        FROM kiosk_hourly FINAL
        WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
        GROUP BY office_id
    ) AS office_counts USING (office_id)
    GROUP BY unit_code, unit_valid_from
) AS unit_sums
ANY INNER JOIN
(
    SELECT code AS unit_code, valid_from AS unit_valid_from, name AS unit_name,
           level AS peer_group
    FROM units FINAL
) AS unit_names USING (unit_code, unit_valid_from)
ORDER BY peer_group, unit_code
