-- Kiosk presses of some offices with their misuse flag (methodology v1): per device,
-- in order of (occurred_at, event_id), a press less than 4 s after the previous press
-- of that device, counted or not, is misuse. Each event_id once: the owned copy (see
-- kiosk_candidates.sql). Presses of the 4 s before each range are read as predecessors.
-- Parameters: offices Array(String) (office_set: the same as a tuple, for IN); per
-- office, in the same order, start_us and end_us (UTC microseconds, [start, end));
-- lo_us/hi_us: their min and max, for the primary-key range.
-- Plain arrays instead of window functions: ClickHouse 18.16 has none.
SELECT
    office_id,
    device_id,
    toUUID(tupleElement(p, 2)) AS event_id,
    tupleElement(p, 1) AS t,
    tupleElement(p, 3) AS satisfied,
    m AS misuse,
    arrayElement(%(start_us)s, indexOf(%(offices)s, office_id)) AS office_start_us,
    arrayElement(%(end_us)s, indexOf(%(offices)s, office_id)) AS office_end_us
FROM
(
    SELECT
        office_id,
        device_id,
        arraySort(groupArray((occurred_at_us, toString(event_id), value >= scale - 1))) AS ps,
        arrayMap(i -> i > 1 AND tupleElement(ps[i], 1) - tupleElement(ps[i - 1], 1) < 4000000,
                 arrayEnumerate(ps)) AS ms
    FROM
    (
@include kiosk_candidates
    ) AS candidates
    WHERE owned
    GROUP BY office_id, device_id
) AS devices
ARRAY JOIN ps AS p, ms AS m
