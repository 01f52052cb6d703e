-- The registry keeps every version it was loaded with (issue 5): a changed file adds a
-- version, it never overwrites history. `units` and `offices` become views of the
-- latest version, so everything that reads them reads one consistent registry.
-- A version's rows are written first and its registry_versions row last: a load that
-- dies half-way leaves no visible version.
CREATE TABLE IF NOT EXISTS registry_versions
(
    version    UInt32,
    loaded_at  DateTime('UTC'),
    checksum   String,                        -- sha256 of the version's rows, canonical
    units      UInt32,
    offices    UInt32,
    lineage    UInt32,
    source     String                         -- what was loaded, for people
)
ENGINE = MergeTree
ORDER BY version;

CREATE TABLE IF NOT EXISTS unit_versions
(
    registry_version UInt32,
    code             String,
    name             String,
    type             String,
    level            String,                  -- city | district | ward | commune | department
    parent_code      String,
    valid_from       Date,
    valid_to         Nullable(Date)           -- inclusive; NULL = still valid
)
ENGINE = MergeTree
ORDER BY (registry_version, code, valid_from);

-- An office belongs to one unit in each of its validity intervals (an office that
-- lived through the 2025 merger has two rows: its old ward, then its new commune).
CREATE TABLE IF NOT EXISTS office_versions
(
    registry_version UInt32,
    office_id        String,
    name             String,
    unit_code        String,
    unit_valid_from  Date,
    valid_from       Date,
    valid_to         Nullable(Date)           -- inclusive; NULL = still valid
)
ENGINE = MergeTree
ORDER BY (registry_version, office_id, valid_from);

-- Which old units (2024) each new unit (2025) was formed from, in full or in part.
CREATE TABLE IF NOT EXISTS unit_lineage_versions
(
    registry_version UInt32,
    new_code         String,
    new_name         String,
    old_code         String,
    old_name         String,
    coverage         String                   -- full | partial
)
ENGINE = MergeTree
ORDER BY (registry_version, new_code, old_code);

DROP TABLE IF EXISTS units;

DROP TABLE IF EXISTS offices;

CREATE VIEW IF NOT EXISTS units AS
SELECT code, name, type, level, parent_code, valid_from, valid_to
FROM unit_versions
WHERE registry_version = (SELECT max(version) FROM registry_versions);

CREATE VIEW IF NOT EXISTS offices AS
SELECT office_id, name, unit_code, unit_valid_from, valid_from, valid_to
FROM office_versions
WHERE registry_version = (SELECT max(version) FROM registry_versions);

CREATE VIEW IF NOT EXISTS unit_lineage AS
SELECT new_code, new_name, old_code, old_name, coverage
FROM unit_lineage_versions
WHERE registry_version = (SELECT max(version) FROM registry_versions);

-- Rankings: camera counts, the bootstrap intervals, the trend, the registry used.
ALTER TABLE rankings
    ADD COLUMN c_n UInt64 AFTER q_n,
    ADD COLUMN c_pos UInt64 AFTER c_n,
    ADD COLUMN score_lo Nullable(Float64) AFTER score,
    ADD COLUMN score_hi Nullable(Float64) AFTER score_lo,
    ADD COLUMN rank_lo Nullable(UInt32) AFTER rank,
    ADD COLUMN rank_hi Nullable(UInt32) AFTER rank_lo,
    ADD COLUMN prev_score Nullable(Float64) AFTER rank_hi,
    ADD COLUMN trend Nullable(Float64) AFTER prev_score,
    ADD COLUMN registry_version UInt32 AFTER input_checksum;

-- Per-staff monthly kiosk scores (cadre evaluation): counted presses of the kiosks a
-- civil servant stood at, the same minimum sample as units. One partition per period.
CREATE TABLE IF NOT EXISTS staff_scores
(
    period              String,
    office_id           String,
    unit_code           String,
    staff_id            String,
    k_n                 UInt64,
    k_sat               UInt64,
    score               Nullable(Float64),    -- S_kiosk = 100 * k_sat / k_n
    eligible            UInt8,
    reason              String,
    min_sample          UInt32,
    methodology_version String,
    computed_at         DateTime('UTC')
)
ENGINE = MergeTree
PARTITION BY period
ORDER BY (office_id, staff_id);
