    contested = 0 OR (tupleElement(owner, 1) = '$channel' AND tupleElement(owner, 2) = kafka_offset
                      AND tupleElement(owner, 3) = kafka_partition) AS owned,
    if(contested = 1, contested_claims, 1) AS claims,
    if(contested = 1, contested_hash,
       cityHash64(toString(event_id), '$channel', kafka_partition, kafka_offset)) AS claims_hash
