-- Personal follows: members' follows, the order in which papers entered the Daily Papers lists, and one record
-- per (member, UTC date) for the daily follow DM.
-- Never edit this file once released: add 0007_… instead.

-- Each paper's first appearance on any Daily Papers list, numbered in commit order: "the papers that entered
-- the lists since a member's last DM" are the entries after the member's position. A paper listed again on
-- another day keeps its first entry, so no DM lists it twice. AUTOINCREMENT never reuses a number.
CREATE TABLE list_entries (
    seq         INTEGER PRIMARY KEY AUTOINCREMENT,  -- the entry's position
    paper_id    TEXT    NOT NULL UNIQUE,
    day         TEXT    NOT NULL,                   -- the list day it was first listed on
    entered_at  TEXT    NOT NULL                    -- ISO-8601 UTC: the fetch that first listed it
);
CREATE INDEX list_entries_day ON list_entries (day);
-- Papers already listed enter in the order they were fetched.
INSERT INTO list_entries (paper_id, day, entered_at)
    SELECT paper_id, min(day), min(fetched_at) FROM daily GROUP BY paper_id
    ORDER BY min(fetched_at), min(day), paper_id;
-- Every new row of a list enters here in the same transaction, whichever code path records the list. A trigger
-- rather than a write in `record_day`: lists gain a few dozen rows a day, so it costs nothing, and no path that
-- writes `daily` (a fetch, a copy between backends) can forget it.
CREATE TRIGGER daily_enters_list AFTER INSERT ON daily BEGIN
    INSERT OR IGNORE INTO list_entries (paper_id, day, entered_at) VALUES (new.paper_id, new.day, new.fetched_at);
END;

-- A member's follows. A follow belongs to the Discord user, whichever server it was made in.
CREATE TABLE follows (
    follow_id   INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL,
    guild_id    INTEGER,                            -- where it was made
    keywords    TEXT    NOT NULL DEFAULT '[]',      -- JSON array: any of them
    author      TEXT,                               -- an author's name (with keywords: both must match)
    terms_key   TEXT    NOT NULL,                   -- the normalised terms: one follow per member per terms
    created_at  TEXT    NOT NULL,
    UNIQUE (user_id, terms_key)
);

-- Where each follower's DMs stand. Created with their first follow; kept when they unfollow everything.
CREATE TABLE follow_members (
    user_id        INTEGER PRIMARY KEY,
    covered_seq    INTEGER NOT NULL,                -- the newest list entry their DMs have covered
    active_since   TEXT    NOT NULL,                -- when following (re)started: DMs are owed after it
    paused_reason  TEXT,                            -- e.g. their DMs are closed; NULL: not paused
    paused_at      TEXT,
    last_dm_at     TEXT
);

-- One record per (member, UTC date): the exactly-once guard of the daily DM. 'sending' is written, under a
-- lease, before the DM is sent and carries its content, so another process or a restart sends the same DM.
CREATE TABLE follow_dms (
    user_id        INTEGER NOT NULL,
    dm_date        TEXT    NOT NULL,                -- the UTC date of the DM
    state          TEXT    NOT NULL CHECK (state IN ('sending', 'sent', 'skipped', 'failed')),
    from_seq       INTEGER NOT NULL,                -- covers list entries after this ...
    to_seq         INTEGER NOT NULL,                -- ... up to this one
    payload        TEXT    NOT NULL DEFAULT '[]',   -- JSON: the papers and the follows they matched
    owner          TEXT,                            -- the process holding a 'sending' record
    lease_until    TEXT,                            -- ISO-8601 UTC; with no owner: when it may be retried
    attempts       INTEGER NOT NULL DEFAULT 0,      -- sends that failed transiently
    error          TEXT,
    started_at     TEXT    NOT NULL,
    finished_at    TEXT,
    PRIMARY KEY (user_id, dm_date)
) WITHOUT ROWID;
CREATE INDEX follow_dms_state ON follow_dms (state);
