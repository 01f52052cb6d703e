-- Kiosk presses of some offices with their misuse flag (methodology v1): per device,
-- in order of (occurred_at, event_id), a press less than 4 s after the previous press
-- of that device, counted or not, is misuse. Each event_id once: only owned rows take
-- part (see kiosk_candidates.sql); the others are returned too (owned = 0, misuse = 0),
-- for the bucket versions. Presses of the 4 s before each range are read as
-- predecessors.
-- Parameters: offices Array(String) (office_set: the same as a tuple, for IN); per
-- office, in the same order, start_us and end_us (UTC microseconds, [start, end));
-- lo_us/hi_us: their min and max, for the primary-key range.
-- Plain arrays instead of window functions: ClickHouse 18.16 has none. `ranks` numbers
-- each row by the owned presses up to it, so `owned_ts[ranks[i] - 1]` is the time of
-- the owned press before row i.
SELECT
    office_id,
    device_id,
    toUUID(tupleElement(p, 2)) AS event_id,
    tupleElement(p, 1) AS t,
    tupleElement(p, 3) AS satisfied,
    tupleElement(p, 4) AS owned,
    tupleElement(p, 5) AS claims,
    tupleElement(p, 6) AS claims_hash,
    m AS misuse,
    arrayElement(%(start_us)s, indexOf(%(offices)s, office_id)) AS office_start_us,
    arrayElement(%(end_us)s, indexOf(%(offices)s, office_id)) AS office_end_us
FROM
(
    SELECT
        office_id,
        device_id,
        arraySort(groupArray((occurred_at_us, toString(event_id), value >= scale - 1, owned,
                              claims, claims_hash))) AS ps,
        arrayMap(x -> tupleElement(x, 1), arrayFilter(x -> tupleElement(x, 4) = 1, ps))
            AS owned_ts,
        arrayCumSum(arrayMap(x -> toUInt64(tupleElement(x, 4)), ps)) AS ranks,
        arrayMap(i -> tupleElement(ps[i], 4) = 1 AND ranks[i] > 1
                      AND tupleElement(ps[i], 1) - owned_ts[ranks[i] - 1] < 4000000,
                 arrayEnumerate(ps)) AS ms
    FROM
    (
@include kiosk_candidates
    ) AS candidates
    GROUP BY office_id, device_id
) AS devices
ARRAY JOIN ps AS p, ms AS m
