-- 0012: device health (issue 13): when each kiosk and camera was last heard from, how
-- far its clock seems off, and whether it is silent in office hours (warehouse/devices.py).

-- Each device's latest landed message, written by the stream worker per batch: the
-- broker's timestamp (the worker's clock when a message has none), the event's own time,
-- and the largest (event time - broker time) of the device's messages in that batch, in
-- seconds: about its clock's offset when it sends live (positive: ahead), negative
-- when it delivers a backlog.
CREATE TABLE IF NOT EXISTS device_seen
(
    device_id      String,
    office_id      String,
    channel        String,
    last_seen_us   Int64,
    last_event_us  Int64,
    skew_s         Float64
)
ENGINE = ReplacingMergeTree(last_seen_us)
ORDER BY device_id;

-- How many minutes of silence in office hours flag a device (HAILONG_DEVICE_SILENT_MINUTES,
-- recorded by `hailong migrate` when it changes).
CREATE TABLE IF NOT EXISTS health_settings
(
    valid_from      DateTime('UTC'),
    silent_minutes  UInt32
)
ENGINE = MergeTree
ORDER BY valid_from;

-- City IT (and the alerts): every kiosk and camera that is not revoked, when it was last
-- seen, its clock skew, and `silent`: 1 when it is office hours now (Mon-Fri 07:30-17:00,
-- Hanoi) and the device has sent nothing for more than silent_minutes since the later of
-- its last message and today's opening. `last_seen_us` 0: never seen.
CREATE VIEW IF NOT EXISTS device_health AS
SELECT device_id, kind, office_id, channel, last_seen_us, last_event_us, skew_s,
       checked_at, silent_minutes,
       toDayOfWeek(local) <= 5 AND minute_of_day >= 450 AND minute_of_day < 1020
       AND toUInt32(checked_at) - greatest(toUInt32(intDiv(last_seen_us, 1000000)),
                                           toUInt32(opened)) > silent_minutes * 60 AS silent
FROM
(
    SELECT device_id, kind, office_id, channel, last_seen_us, last_event_us, skew_s,
           now() AS checked_at,
           toTimeZone(checked_at, 'Asia/Ho_Chi_Minh') AS local,
           toHour(local) * 60 + toMinute(local) AS minute_of_day,
           toDateTime(concat(toString(toDate(local)), ' 07:30:00'), 'Asia/Ho_Chi_Minh')
               AS opened,
           (SELECT argMax(silent_minutes, valid_from) FROM health_settings) AS silent_minutes
    FROM
    (
        SELECT device_id, argMax(kind, key_id) AS kind, argMax(office_id, key_id) AS office_id
        FROM devices
        GROUP BY device_id
        HAVING max(revoked_at_us) = 0 AND kind IN ('kiosk', 'camera')
    ) AS registered
    ANY LEFT JOIN
    (
        SELECT device_id, channel, last_seen_us, last_event_us, skew_s
        FROM device_seen FINAL
    ) AS seen USING (device_id)
);
