-- Each office and the unit it belongs to in a ranking period: the unit it is
-- registered under on the period's last day. Parameter: last_day, 'YYYY-MM-DD'.
SELECT office_id, unit_code, unit_valid_from
FROM offices
WHERE valid_from <= toDate(%(last_day)s)
  AND (valid_to IS NULL OR valid_to >= toDate(%(last_day)s))
