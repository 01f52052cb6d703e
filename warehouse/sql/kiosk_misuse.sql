-- The presses flagged misuse in the office ranges of kiosk_presses.sql (same parameters),
-- for the kiosk_misuse table.
SELECT event_id, office_id, device_id, t AS occurred_at_us
FROM
(
@include kiosk_presses
) AS presses
WHERE misuse AND t >= office_start_us AND t < office_end_us
