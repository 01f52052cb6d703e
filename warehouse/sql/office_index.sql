-- The live index of some offices (the parameter `offices`: a tuple of ids): the view
-- office_index_current (migration 0003) with the offices filtered inside every subquery,
-- since ClickHouse 18.16 computes the view for every office before filtering it (450 ms
-- for one office of 2,000; a few ms this way). The text is the view's plus the filter
-- lines: tests/unit/test_dashboard_sql.py strips them and compares, so the two cannot
-- drift apart.
SELECT
    office_id,
    window,
    window_start,
    k_n,
    k_sat,
    if(k_n = 0, NULL, 100 * k_sat / k_n) AS s_kiosk,
    q_n,
    if(q_n = 0, NULL, s_qr_value) AS s_qr,
    c_n,
    c_pos,
    if(c_n = 0, NULL, 100 * c_pos / c_n) AS s_camera,
    if(weight_sum = 0, NULL, weighted / weight_sum) AS osi,
    k_misuse,
    q_duplicates,
    queue_obs,
    if(queue_obs = 0, NULL, queue_length_sum / queue_obs) AS queue_length_avg,
    if(wait_obs = 0, NULL, wait_seconds_sum / wait_obs) AS wait_seconds_avg
FROM
(
    SELECT
        *,
        (SELECT argMax(qr, valid_from) FROM index_weights) AS w_qr,
        (SELECT argMax(kiosk, valid_from) FROM index_weights) AS w_kiosk,
        (SELECT argMax(camera, valid_from) FROM index_weights) AS w_camera,
        w_qr * (q_n > 0) + w_kiosk * (k_n > 0) + w_camera * (c_n > 0) AS weight_sum,
        w_qr * if(q_n > 0, s_qr_value, 0)
            + w_kiosk * if(k_n > 0, 100 * k_sat / k_n, 0)
            + w_camera * if(c_n > 0, 100 * c_pos / c_n, 0) AS weighted
    FROM
    (
        SELECT *
        FROM
        (
            SELECT *
            FROM
            (
                SELECT *
                FROM
                (
                    SELECT office_id, tupleElement(w, 1) AS window,
                           toStartOfHour(now()) - tupleElement(w, 2) * 3600 AS window_start
                    FROM
                    (
                        SELECT DISTINCT office_id FROM
                        (
                            SELECT office_id FROM offices WHERE office_id IN %(offices)s
                            UNION ALL SELECT office_id FROM kiosk_hourly
                                WHERE hour >= toStartOfHour(now()) - 720 * 3600
                                  AND office_id IN %(offices)s
                            UNION ALL SELECT office_id FROM qr_hourly
                                WHERE hour >= toStartOfHour(now()) - 720 * 3600
                                  AND office_id IN %(offices)s
                            UNION ALL SELECT office_id FROM camera_hourly
                                WHERE hour >= toStartOfHour(now()) - 720 * 3600
                                  AND office_id IN %(offices)s
                        ) AS any_office
                    ) AS office_list
                    ARRAY JOIN [('1h', 1), ('24h', 24), ('7d', 168), ('30d', 720)] AS w
                ) AS grid
                ANY LEFT JOIN
                (
                    SELECT office_id, tupleElement(w, 1) AS window, sum(k_n) AS k_n,
                           sum(k_sat) AS k_sat, sum(k_misuse) AS k_misuse
                    FROM kiosk_hourly FINAL
                    ARRAY JOIN [('1h', 1), ('24h', 24), ('7d', 168), ('30d', 720)] AS w
                    WHERE hour >= toStartOfHour(now()) - tupleElement(w, 2) * 3600
                      AND hour <= toStartOfHour(now())
                      AND office_id IN %(offices)s
                    GROUP BY office_id, window
                ) AS kiosk USING (office_id, window)
            ) AS with_kiosk
            ANY LEFT JOIN
            (
                SELECT office_id, tupleElement(w, 1) AS window, sum(q_n) AS q_n,
                       sum(q_duplicates) AS q_duplicates
                FROM qr_hourly FINAL
                ARRAY JOIN [('1h', 1), ('24h', 24), ('7d', 168), ('30d', 720)] AS w
                WHERE hour >= toStartOfHour(now()) - tupleElement(w, 2) * 3600
                  AND hour <= toStartOfHour(now())
                  AND office_id IN %(offices)s
                GROUP BY office_id, window
            ) AS qr_counts USING (office_id, window)
        ) AS with_qr_counts
        ANY LEFT JOIN
        (
            -- S_qr: criterion rates p_c = s_c / a_c → mean per aspect → 100 · mean of aspects
            SELECT office_id, window, 100 * avg(aspect_rate) AS s_qr_value
            FROM
            (
                SELECT office_id, window, aspect, avg(rate) AS aspect_rate
                FROM
                (
                    SELECT office_id, tupleElement(w, 1) AS window, questionnaire, aspect,
                           criterion, sum(satisfied) / sum(answered) AS rate
                    FROM qr_criteria_hourly FINAL
                    ARRAY JOIN [('1h', 1), ('24h', 24), ('7d', 168), ('30d', 720)] AS w
                    WHERE hour >= toStartOfHour(now()) - tupleElement(w, 2) * 3600
                      AND hour <= toStartOfHour(now())
                      AND office_id IN %(offices)s
                    GROUP BY office_id, window, questionnaire, aspect, criterion
                    HAVING sum(answered) > 0
                ) AS criteria
                GROUP BY office_id, window, aspect
            ) AS aspects
            GROUP BY office_id, window
        ) AS qr_scores USING (office_id, window)
    ) AS with_qr
    ANY LEFT JOIN
    (
        SELECT office_id, tupleElement(w, 1) AS window, sum(c_n) AS c_n, sum(c_pos) AS c_pos,
               sum(queue_obs) AS queue_obs, sum(queue_length_sum) AS queue_length_sum,
               sum(wait_obs) AS wait_obs, sum(wait_seconds_sum) AS wait_seconds_sum
        FROM camera_hourly FINAL
        ARRAY JOIN [('1h', 1), ('24h', 24), ('7d', 168), ('30d', 720)] AS w
        WHERE hour >= toStartOfHour(now()) - tupleElement(w, 2) * 3600
          AND hour <= toStartOfHour(now())
          AND office_id IN %(offices)s
        GROUP BY office_id, window
    ) AS camera USING (office_id, window)
) AS scored
