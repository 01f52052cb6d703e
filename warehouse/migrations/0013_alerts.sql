-- 0013: alerts (issue 14). Every change of an alert's life, as the alert engine
-- (streams/alerting.py, streams/alert_life.py) or a person made it: raised, reminded,
-- acknowledged, resolved, snoozed. A change is identified by (alert_id, kind, hour, by):
-- an engine that evaluates an hour again after a restart writes the same rows, which the
-- engine merges (ReplacingMergeTree; read with FINAL or through the view).
CREATE TABLE IF NOT EXISTS alert_changes
(
    alert_id     String,
    office_id    String,
    rule         String,
    kind         String,                 -- raised | reminded | acknowledged | resolved | snoozed
    state        String,                 -- the alert's state after the change
    hour         DateTime('UTC'),        -- the hour evaluated, or of the person's action
    raised_hour  DateTime('UTC'),
    by           String,                 -- 'hailong', 'recovered' or the person
    comment      String,
    numbers      String,                 -- JSON: the counts, shares and bounds behind it
    recorded_at  DateTime('UTC')
)
ENGINE = ReplacingMergeTree(recorded_at)
PARTITION BY toYYYYMM(raised_hour)
ORDER BY (alert_id, kind, hour, by);

-- City IT: each alert as it stands, its latest numbers, who acknowledged or resolved it.
CREATE VIEW IF NOT EXISTS alerts AS
SELECT alert_id,
       any(office_id) AS office_id,
       any(rule) AS rule,
       argMax(state, (hour, recorded_at)) AS current_state,
       min(raised_hour) AS raised_at,
       max(hour) AS last_change_at,
       argMax(numbers, (hour, recorded_at)) AS latest_numbers,
       argMaxIf(by, hour, kind = 'acknowledged') AS acknowledged_by,
       argMaxIf(by, hour, kind = 'resolved') AS resolved_by,
       argMaxIf(comment, hour, comment != '') AS latest_comment
FROM alert_changes FINAL
GROUP BY alert_id;
