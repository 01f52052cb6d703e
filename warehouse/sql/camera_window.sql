    WHERE office_id IN %(office_set)s
      AND observed_at_us >= %(lo_us)s AND observed_at_us < %(hi_us)s
      -- the same range on the partition column (months): 18.16 skips no rows of
      -- other months by the *_us range when the offices are a set (bench 3h)
      AND observed_at >= toDateTime(greatest(intDiv(%(lo_us)s, 1000000) - 1, 0))
      AND observed_at < toDateTime(intDiv(%(hi_us)s, 1000000) + 1)
      AND observed_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
      AND observed_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
