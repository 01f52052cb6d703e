    WHERE office_id IN %(office_set)s
      AND token_id IN
      (
          SELECT token_id FROM qr_surveys_raw
          WHERE office_id IN %(office_set)s
            AND submitted_at_us >= %(lo_us)s AND submitted_at_us < %(hi_us)s
            AND submitted_at >= toDateTime(greatest(intDiv(%(lo_us)s, 1000000) - 1, 0))
            AND submitted_at < toDateTime(intDiv(%(hi_us)s, 1000000) + 1)
      )
