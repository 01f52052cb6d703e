-- The kiosk presses in the office ranges of kiosk_presses.sql (same parameters) and the
-- 4 s before each, one row per raw key (office, time, event_id: rows with one key are
-- merged in time; the owned one first), with `owned` (this row is the message that
-- counts for its event_id: each event_id once, across channels) and the id's claims.
-- Raw holds only candidate messages (claimed before their raw row is written); two of
-- one event_id are there only when two workers landed copies at the same moment, and
-- then only the owner counts.
SELECT
    event_id,
    office_id,
    device_id,
    occurred_at_us,
    value,
    scale,
@include owned channel=kiosk
FROM
(
    SELECT event_id, office_id, device_id, occurred_at_us, value, scale, kafka_partition,
           kafka_offset
    FROM kiosk_ratings_raw
@include kiosk_window
) AS raw
@include claims_head
            SELECT event_id FROM contested_events
            WHERE office_id IN %(office_set)s
              AND at_us >= %(lo_us)s - 4000000 AND at_us < %(hi_us)s
@include claims_tail
ORDER BY owned DESC
LIMIT 1 BY office_id, occurred_at_us, event_id
