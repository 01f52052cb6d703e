                WHERE office_id IN %(offices)s
                  AND toStartOfHour(submitted_at) >= toDateTime(%(start_s)s)
                  AND toStartOfHour(submitted_at) < toDateTime(%(end_s)s)
