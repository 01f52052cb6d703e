-- (Included, with claims_tail.sql around a query of contested_events for the offices
-- and times read: a short range of its primary key.) Every raw row is a
-- candidate (warehouse/claims.py: a message is claimed before its raw row, and only
-- candidates land), so a raw row counts unless its event_id is contested: two workers
-- landed copies of it at the same moment (table contested_events, written by the
-- worker that sees the second candidate). Only for those few ids are the claims read:
-- `owner`, the message that counts, as (channel, offset, partition), the least of the
-- candidates; `contested_claims` and `contested_hash` (how many candidates, and a hash
-- of them) feed the bucket versions. Other rows get contested = 0.
ANY LEFT JOIN
(
    SELECT
        event_id,
        toUInt8(1) AS contested,
        arraySort(groupArray((channel, kafka_offset, kafka_partition)))[1] AS owner,
        count() AS contested_claims,
        sum(cityHash64(toString(event_id), channel, kafka_partition, kafka_offset))
            AS contested_hash
    FROM
    (
        SELECT DISTINCT event_id, channel, kafka_partition, kafka_offset
        FROM event_claims
        WHERE uncontested = 1 AND event_id IN
        (
            -- the contested ids of the rows read: contested_events by office and time
