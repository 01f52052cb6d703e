    tupleElement(owner, 1) = 'qr' AND tupleElement(owner, 2) = kafka_offset
        AND tupleElement(owner, 3) = kafka_partition AS owned,
    claims,
    claims_hash
