    WHERE office_id IN %(office_set)s
      AND occurred_at_us >= %(lo_us)s - 4000000
      AND occurred_at_us < %(hi_us)s
      -- the same range on the partition column (months): 18.16 skips no rows of
      -- other months by the *_us range when the offices are a set (bench 3h)
      AND occurred_at >= toDateTime(greatest(intDiv(%(lo_us)s - 4000000, 1000000) - 1, 0))
      AND occurred_at < toDateTime(intDiv(%(hi_us)s, 1000000) + 1)
      -- each office's own range (and its 4 s of predecessors): a batch that spans
      -- weeks across offices must not read every office over all those weeks
      AND occurred_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
                            - 4000000
      AND occurred_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
