            SELECT event_id FROM contested_events
            WHERE office_id IN %(office_set)s AND at_us >= %(lo_us)s AND at_us < %(hi_us)s
