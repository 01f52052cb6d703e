-- 0010: the device registry (issue 13): kiosks, cameras and gateways, each key bound to
-- one office (gateways: none) over an interval, with its Ed25519 public key. Nothing
-- here is secret: a device's private key exists only in its config file.
--
-- Append-only history: every change (register, rotate, revoke) writes the whole new
-- state of each key it touches; the state of a key is its latest row (view `devices`).
CREATE TABLE IF NOT EXISTS device_changes
(
    device_id      String,
    key_id         UInt32,
    kind           String,                  -- kiosk | camera | gateway
    office_id      String,                  -- '' for a gateway (any office)
    public_key     String,                  -- Ed25519, 32 bytes, hex
    token_sha256   String,                  -- a camera's webhook token, hashed ('' none)
    valid_from_us  Int64,                   -- the key signs events from here (UTC µs)
    valid_to_us    Int64,                   -- ... until here, exclusive; 0: open
    revoked_at_us  Int64,                   -- 0, or: nothing the broker receives from
                                            -- here on counts
    action         String,                  -- register | rotate | revoke
    why            String,
    changed_by     String,
    changed_at     DateTime('UTC'),
    changed_at_us  Int64
)
ENGINE = MergeTree
ORDER BY (device_id, key_id, changed_at_us);

-- City IT: every key of every device in its latest state (`token_sha256`: the hash of
-- a camera's or issuer's bearer token; the token itself is in its config only).
CREATE VIEW IF NOT EXISTS devices AS
SELECT device_id, key_id,
       argMax(kind, changed_at_us) AS kind,
       argMax(office_id, changed_at_us) AS office_id,
       argMax(public_key, changed_at_us) AS public_key,
       argMax(valid_from_us, changed_at_us) AS valid_from_us,
       argMax(valid_to_us, changed_at_us) AS valid_to_us,
       argMax(revoked_at_us, changed_at_us) AS revoked_at_us,
       argMax(token_sha256, changed_at_us) AS token_sha256,
       max(changed_at) AS changed_at
FROM device_changes
GROUP BY device_id, key_id;
