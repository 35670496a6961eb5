-- Many processes on one catalogue: a change log that feeds every derived view (search index, vectors), the
-- catalogue's identity, and a record of every list fetch (so a backfill can resume).
-- Never edit this file once released: add 0005_… instead.

-- The outbox was drained (deleted) by its one reader; the change log is append-only. Each write that
-- changes a paper appends its id here in the same transaction. SQLite has one writer at a time, so
-- sequence numbers grow in commit order; AUTOINCREMENT never reuses a number, even after pruning.
DROP TABLE IF EXISTS search_outbox;
CREATE TABLE changes (
    seq       INTEGER PRIMARY KEY AUTOINCREMENT,
    paper_id  TEXT    NOT NULL,
    at        TEXT    NOT NULL                     -- ISO-8601 UTC; old entries are pruned by age
);

-- One row per list day ever fetched, empty lists included: when, and how many papers it listed.
CREATE TABLE fetched_days (
    day         TEXT    PRIMARY KEY,               -- the UTC date asked for
    fetched_at  TEXT    NOT NULL,
    listed      INTEGER NOT NULL
) WITHOUT ROWID;
INSERT INTO fetched_days (day, fetched_at, listed)
    SELECT day, max(fetched_at), count(*) FROM daily GROUP BY day;

-- Facts about the catalogue itself.
CREATE TABLE meta (
    key    TEXT PRIMARY KEY,
    value  TEXT NOT NULL
) WITHOUT ROWID;
-- A derived view records which catalogue it was built from: a copied or replaced file is rebuilt.
INSERT INTO meta (key, value) VALUES ('catalogue_id', lower(hex(randomblob(16))));
-- The newest change-log sequence number deleted by pruning (followers behind it rebuild).
INSERT INTO meta (key, value) VALUES ('changes_pruned_through', '0');
