    WHERE office_id IN %(office_set)s
      AND submitted_at_us >= %(lo_us)s AND submitted_at_us < %(hi_us)s
      AND submitted_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
      AND submitted_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
