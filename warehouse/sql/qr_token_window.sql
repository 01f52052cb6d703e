-- (Included.) Every submission of the tokens submitted in the office ranges read (with
-- the parameters of qr_window.sql), by (office, token) through qr_token_index
-- (migration 0016): a short range of its key per token, whatever the offices' history.
    WHERE (office_id, token_id) IN
      (
          SELECT office_id, token_id FROM qr_surveys_raw
          WHERE office_id IN %(office_set)s
            AND submitted_at_us >= %(lo_us)s AND submitted_at_us < %(hi_us)s
            AND submitted_at >= toDateTime(greatest(intDiv(%(lo_us)s, 1000000) - 1, 0))
            AND submitted_at < toDateTime(intDiv(%(hi_us)s, 1000000) + 1)
      )
