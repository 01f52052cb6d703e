    WHERE office_id IN %(office_set)s
      AND occurred_at_us >= %(lo_us)s - 4000000
      AND occurred_at_us < %(hi_us)s
      -- each office's own range (and its 4 s of predecessors): a batch that spans
      -- weeks across offices must not read every office over all those weeks
      AND occurred_at_us >= arrayElement(%(start_us)s, indexOf(%(offices)s, office_id))
                            - 4000000
      AND occurred_at_us < arrayElement(%(end_us)s, indexOf(%(offices)s, office_id))
