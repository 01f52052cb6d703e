-- 0014: the alert engine's rules and deliveries (issue 14).

-- Each rule book loaded by `hailong alerts rules load FILE` (JSON, streams/alert_rules.py
-- RuleBook): the engine uses the latest; the earlier ones stay as history.
CREATE TABLE IF NOT EXISTS alert_rulebooks
(
    loaded_at  DateTime('UTC'),
    loaded_by  String,
    sha256     String,
    body       String
)
ENGINE = MergeTree
ORDER BY loaded_at;

-- What the engine delivered: each alert change (`change_key`: alert_id/kind/hour/by) or
-- daily digest (`digest/<day>`) to each channel (`kafka`, or a route of the routing
-- table). A change is sent until it has its row; a restart sends nothing twice that has.
CREATE TABLE IF NOT EXISTS alert_deliveries
(
    change_key  String,
    channel     String,
    sent_at     DateTime('UTC')
)
ENGINE = ReplacingMergeTree(sent_at)
ORDER BY (change_key, channel);
