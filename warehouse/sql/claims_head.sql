-- (Included, with claims_tail.sql around a subquery of event ids.) Joins each raw row to
-- its event_id's claims in event_claims (migration 0008): `owner`, the Kafka message
-- that counts for the id, as (channel, offset, partition): the least of the candidate
-- messages (uncontested = 1: their worker saw no earlier claim of the id); `claims`, how
-- many candidate messages the id has, and `claims_hash`, a hash of them, for the bucket
-- versions.
ANY LEFT JOIN
(
    SELECT
        event_id,
        arraySort(groupArray((channel, kafka_offset, kafka_partition)))[1] AS owner,
        count() AS claims,
        sum(cityHash64(toString(event_id), channel, kafka_partition, kafka_offset)) AS claims_hash
    FROM
    (
        SELECT DISTINCT event_id, channel, kafka_partition, kafka_offset
        FROM event_claims
        WHERE uncontested = 1 AND event_id IN
        (
