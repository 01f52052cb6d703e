-- 0009: the quarantine (valid but implausible events: kept, shown, not counted until a
-- person releases them) and stale rankings (a late event landed in a published period).
-- See streams/plausible.py, warehouse/quarantine.py and warehouse/staleness.py.

-- Each quarantined Kafka message once: (source_topic, kafka_partition, kafka_offset)
-- identifies it; `version` counts down from the top of UInt64 by quarantined_at_us, so
-- the first decision wins when a replay quarantines the message again.
CREATE TABLE IF NOT EXISTS quarantine
(
    source_topic      String,
    kafka_partition   UInt32,
    kafka_offset      UInt64,
    channel           String,                 -- kiosk | qr | camera
    event_id          UUID,
    office_id         String,
    at                DateTime('UTC'),        -- the event's own time
    at_us             Int64,
    broker_at_us      Int64,                  -- the broker's timestamp (0: none given)
    key               Nullable(String),       -- the message key, exact bytes
    raw               String,                 -- the message value, exact bytes
    reason            String,                 -- every rule it broke, '; ' between them
    quarantined_at    DateTime('UTC'),
    quarantined_at_us Int64,
    version           UInt64
)
ENGINE = ReplacingMergeTree(version)
ORDER BY (source_topic, kafka_partition, kafka_offset);

-- The audit of releases: who released which quarantined message, why, when, and what
-- came of it. Append-only (plain MergeTree): a second release is a second row.
CREATE TABLE IF NOT EXISTS quarantine_releases
(
    source_topic     String,
    kafka_partition  UInt32,
    kafka_offset     UInt64,
    event_id         UUID,
    released_by      String,
    why              String,
    released_at      DateTime('UTC'),
    released_at_us   Int64,
    outcome          String                   -- counted | a copy: ... | not valid: ...
)
ENGINE = MergeTree
ORDER BY (source_topic, kafka_partition, kafka_offset, released_at_us);

-- Events that landed in a period whose ranking was already published (month 'YYYY-MM'
-- and year 'YYYY', Hanoi time). The latest landing of an event counts (version =
-- landed_at_us): a replay after a re-publication marks the period stale again, the
-- safe side.
CREATE TABLE IF NOT EXISTS late_events
(
    period        String,
    event_id      UUID,
    channel       String,
    office_id     String,
    landed_at     DateTime('UTC'),
    landed_at_us  Int64
)
ENGINE = ReplacingMergeTree(landed_at_us)
ORDER BY (period, event_id);

-- City IT: the quarantine, each message once, with its latest release (if any).
CREATE VIEW IF NOT EXISTS quarantined_events AS
SELECT source_topic, kafka_partition, kafka_offset, channel, event_id, office_id, at,
       reason, quarantined_at, released_by != '' AS released, released_by, release_why,
       released_at, outcome
FROM
(
    SELECT source_topic, kafka_partition, kafka_offset, channel, event_id, office_id, at,
           reason, quarantined_at
    FROM quarantine FINAL
) AS held
ANY LEFT JOIN
(
    SELECT source_topic, kafka_partition, kafka_offset,
           argMax(released_by, released_at_us) AS released_by,
           argMax(why, released_at_us) AS release_why,
           max(released_at) AS released_at,
           argMax(outcome, released_at_us) AS outcome
    FROM quarantine_releases
    GROUP BY source_topic, kafka_partition, kafka_offset
) AS releases USING (source_topic, kafka_partition, kafka_offset);

-- City IT: the published rankings that late events made stale: events counted in the
-- period since its ranking was computed. Re-running the period's ranking clears it.
CREATE VIEW IF NOT EXISTS stale_rankings AS
SELECT period, any(computed) AS published_at, count() AS late_events,
       uniqExact(office_id) AS offices, min(landed_at) AS first_late_at,
       max(landed_at) AS last_late_at
FROM
(
    SELECT period, office_id, landed_at FROM late_events FINAL
) AS late
ALL INNER JOIN
(
    SELECT period, max(computed_at) AS computed FROM rankings GROUP BY period
) AS published USING (period)
WHERE landed_at >= computed
GROUP BY period;

-- The ranking views gain two columns at the end (`stale`, `late_events`); none of the
-- earlier ones changes. Both read `ranking_rows` (every published row, with them).
DROP TABLE IF EXISTS ranking_monthly;

DROP TABLE IF EXISTS ranking_annual;

CREATE VIEW IF NOT EXISTS ranking_rows AS
SELECT period, peer_group, unit_code, unit_name, rank, n_ranked, rank_lo, rank_hi,
       score, score_lo, score_hi, prev_score, trend, s_kiosk, s_qr, s_camera,
       k_n, k_sat, q_n, c_n, c_pos, offices, eligible, reason, weights, min_sample,
       methodology_version, registry_version, input_checksum, computed_at,
       late_events > 0 AS stale, late_events
FROM rankings
ANY LEFT JOIN
(
    SELECT period, late_events FROM stale_rankings
) AS late_counts USING (period);

CREATE VIEW IF NOT EXISTS ranking_monthly AS
SELECT * FROM ranking_rows WHERE length(period) = 7;

CREATE VIEW IF NOT EXISTS ranking_annual AS
SELECT * FROM ranking_rows WHERE length(period) = 4;
