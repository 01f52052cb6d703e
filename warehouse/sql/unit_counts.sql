-- Counts of every unit for one ranking period (methodology v1, "Rankings"): the sums of
-- its offices' hourly counts in the period, all channels. Per-criterion QR counts come
-- from unit_criteria.sql.
-- Parameters: start_s, end_s: the period's bounds as UTC epoch seconds ([start, end));
--             last_day: the period's last local day, 'YYYY-MM-DD'.
-- Subqueries carry aliases: current ClickHouse requires them in joins, 18.16 accepts them.
SELECT
    peer_group,
    unit_code,
    unit_name,
    offices,
    k_n,
    k_sat,
    q_n,
    c_n,
    c_pos
FROM
(
    SELECT
        unit_code,
        unit_valid_from,
        count() AS offices,
        sum(office_k_n) AS k_n,
        sum(office_k_sat) AS k_sat,
        sum(office_q_n) AS q_n,
        sum(office_c_n) AS c_n,
        sum(office_c_pos) AS c_pos
    FROM
    (
@include office_units
    ) AS office_units
    ANY LEFT JOIN
    (
        SELECT office_id, sum(k_n) AS office_k_n, sum(k_sat) AS office_k_sat,
               sum(q_n) AS office_q_n, sum(c_n) AS office_c_n, sum(c_pos) AS office_c_pos
        FROM
        (
            SELECT office_id, k_n, k_sat, toUInt64(0) AS q_n, toUInt64(0) AS c_n,
                   toUInt64(0) AS c_pos
            FROM kiosk_hourly FINAL
            WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
            UNION ALL
            SELECT office_id, toUInt64(0), toUInt64(0), q_n, toUInt64(0), toUInt64(0)
            FROM qr_hourly FINAL
            WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
            UNION ALL
            SELECT office_id, toUInt64(0), toUInt64(0), toUInt64(0), c_n, c_pos
            FROM camera_hourly FINAL
            WHERE hour >= toDateTime(%(start_s)s) AND hour < toDateTime(%(end_s)s)
        ) AS channel_counts
        GROUP BY office_id
    ) AS office_counts USING (office_id)
    GROUP BY unit_code, unit_valid_from
) AS unit_sums
ANY INNER JOIN
(
    SELECT code AS unit_code, valid_from AS unit_valid_from, name AS unit_name,
           level AS peer_group
    FROM units
) AS unit_names USING (unit_code, unit_valid_from)
ORDER BY peer_group, unit_code
