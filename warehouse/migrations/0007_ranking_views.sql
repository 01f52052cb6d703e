-- Stable views of the published rankings and staff scores for city IT (issue 5).
-- (The annual job also stores each civil servant's year in staff_scores, period 'YYYY'.)
-- Months have periods 'YYYY-MM', years 'YYYY'. Scores at full precision; publish them
-- rounded to 2 decimals half up (ties are decided at 2 decimals).
CREATE VIEW IF NOT EXISTS ranking_monthly AS
SELECT period, peer_group, unit_code, unit_name, rank, n_ranked, rank_lo, rank_hi,
       score, score_lo, score_hi, prev_score, trend, s_kiosk, s_qr, s_camera,
       k_n, k_sat, q_n, c_n, c_pos, offices, eligible, reason, weights, min_sample,
       methodology_version, registry_version, input_checksum, computed_at
FROM rankings
WHERE length(period) = 7;

CREATE VIEW IF NOT EXISTS ranking_annual AS
SELECT period, peer_group, unit_code, unit_name, rank, n_ranked, rank_lo, rank_hi,
       score, score_lo, score_hi, prev_score, trend, s_kiosk, s_qr, s_camera,
       k_n, k_sat, q_n, c_n, c_pos, offices, eligible, reason, weights, min_sample,
       methodology_version, registry_version, input_checksum, computed_at
FROM rankings
WHERE length(period) = 4;

CREATE VIEW IF NOT EXISTS staff_scores_monthly AS
SELECT period, office_id, unit_code, staff_id, k_n, k_sat, score, eligible, reason,
       min_sample, methodology_version, computed_at
FROM staff_scores
WHERE length(period) = 7;
