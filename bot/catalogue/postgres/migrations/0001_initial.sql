-- The PostgreSQL catalogue: papers, the Daily Papers lists and their fetch record, the change log that feeds
-- every process's search views, facts about the catalogue, the digest's subscriptions, post records and
-- scheduler slots, and members' follows with their list entries and DM records.
-- The same tables and rules as the SQLite backend's migrations 0001-0006. Never edit this file once released:
-- add 0002_... instead.
--
-- Identifiers and keys are COLLATE "C": comparisons are by byte, as SQLite's, so every ordering (ties broken
-- by id, autocomplete's title order) is the same on both backends whatever the server's locale, and the
-- title_key index serves a prefix as a plain range.

CREATE TABLE papers (
    pk            bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,  -- insertion order, for streaming
    id            text    COLLATE "C" NOT NULL UNIQUE,               -- unversioned arXiv id
    title         text    NOT NULL,
    title_key     text    COLLATE "C" NOT NULL,                      -- casefolded, whitespace-collapsed title
    abstract      text,
    authors       text[],                                            -- in paper order; NULL when none
    published     date,                                              -- arXiv v1 date
    upvotes       integer,
    num_comments  integer,
    github_repo   text,
    github_stars  integer,
    project_page  text,
    organization  text,
    thumbnail     text,
    ai_summary    text,
    ai_keywords   text[],
    withdrawn     boolean,
    categories    text[],                                            -- arXiv only
    first_seen    timestamptz NOT NULL,
    last_seen     timestamptz NOT NULL                               -- last time a source brought a change
);
-- Exact title lookups and autocomplete's prefix range (title_key >= key AND title_key < key || U+10FFFF),
-- read in index order: ties by pk, as SQLite's index on title_key orders them by rowid.
CREATE INDEX papers_title_key ON papers (title_key, pk);
-- Autocomplete with nothing typed yet: the most upvoted first (SQLite orders NULL lowest: NULLS LAST here).
CREATE INDEX papers_upvotes ON papers (upvotes DESC NULLS LAST, id);

-- One row per (list day, paper): "what trended on day D" is a query.
CREATE TABLE daily (
    day         date    NOT NULL,                                    -- the UTC date asked for (?date=D)
    paper_id    text    COLLATE "C" NOT NULL REFERENCES papers (id),
    rank        integer NOT NULL,
    upvotes     integer NOT NULL,                                    -- upvotes at the latest fetch of that day
    fetched_at  timestamptz NOT NULL,
    PRIMARY KEY (day, paper_id)
);
CREATE INDEX daily_paper ON daily (paper_id);

-- One row per list day ever fetched, empty lists included: when, and how many papers it listed.
CREATE TABLE fetched_days (
    day         date    PRIMARY KEY,
    fetched_at  timestamptz NOT NULL,
    listed      integer NOT NULL
);

-- The change log: each write that changes a paper appends its id here in the same transaction. Appends are
-- serialised by a transaction-scoped advisory lock taken just before them (bot/catalogue/postgres/_changes.py),
-- so sequence numbers become visible in commit order. CACHE 1 (the default, stated because it matters): a
-- session that pre-allocated a block of numbers would hand them out later, below others' committed ones.
CREATE TABLE changes (
    seq       bigint  GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,
    paper_id  text    COLLATE "C" NOT NULL,
    at        timestamptz NOT NULL                                   -- old entries are pruned by age
);

-- Facts about the catalogue itself: its identity (written when first opened), the newest pruned change-log
-- number, and named markers (e.g. how far a copy from another catalogue got).
CREATE TABLE meta (
    key    text COLLATE "C" PRIMARY KEY,
    value  text NOT NULL
);
INSERT INTO meta (key, value) VALUES ('changes_pruned_through', '0');

-- Subscriptions made with /paper digest subscribe. A row for a channel that is also in the config file
-- overrides the file's settings for it.
CREATE TABLE digest_subscriptions (
    channel_id   bigint  PRIMARY KEY,
    guild_id     bigint,
    time         text    NOT NULL,                                   -- local HH:MM
    timezone     text    NOT NULL,                                   -- IANA name
    top_n        integer NOT NULL CHECK (top_n BETWEEN 1 AND 25),
    min_upvotes  integer NOT NULL CHECK (min_upvotes >= 0),
    keywords     text[]  NOT NULL DEFAULT '{}',
    empty_days   text    NOT NULL CHECK (empty_days IN ('skip', 'note', 'week')),
    created_at   timestamptz NOT NULL                                -- posts are owed from here on
);

-- What the bot knows about any digest channel, whichever its source: when a running bot first saw a config
-- channel (it is owed posts from then on, never retroactively), and whether posting to it is failing.
CREATE TABLE digest_channel_state (
    channel_id      bigint PRIMARY KEY,
    first_seen      timestamptz,                                     -- config channels only
    failing_reason  text,
    failing_since   timestamptz
);

-- One record per (channel, local date): the exactly-once guard. A 'posting' record is written before the first
-- message, carries the rendered messages, and is held by one process (`owner`) under a lease it renews; a
-- process that dies leaves a lease that expires, and another claims the record and finishes the same post.
CREATE TABLE digest_posts (
    channel_id   bigint  NOT NULL,
    local_date   date    NOT NULL,                                   -- the channel's local date of the post
    list_day     date    NOT NULL,                                   -- the Daily Papers UTC day shown
    state        text    NOT NULL CHECK (state IN ('posting', 'posted', 'skipped', 'failed')),
    payload      text    NOT NULL DEFAULT '[]',                      -- JSON of the rendered messages
    error        text,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    owner        text,                                               -- the process holding a 'posting' record
    lease_until  timestamptz,                                        -- NULL once the post is closed
    PRIMARY KEY (channel_id, local_date)
);
CREATE INDEX digest_posts_state ON digest_posts (state);

-- One row per part of a post: written with its nonce when the post is claimed, given its message id when sent.
CREATE TABLE digest_post_parts (
    channel_id  bigint  NOT NULL,
    local_date  date    NOT NULL,
    part        integer NOT NULL CHECK (part >= 1),
    nonce       text,                                                -- the part's deterministic message nonce
    message_id  bigint,                                              -- NULL until the part is in the channel
    sent_at     timestamptz,
    PRIMARY KEY (channel_id, local_date, part),
    FOREIGN KEY (channel_id, local_date) REFERENCES digest_posts (channel_id, local_date) ON DELETE CASCADE
);

-- One row per claimed run of a scheduled job: the first process to insert (job, slot_time) runs it. Rows older
-- than a week are deleted by the claims themselves.
CREATE TABLE job_slots (
    job         text COLLATE "C" NOT NULL,
    slot_time   timestamptz NOT NULL,                                -- whole seconds
    owner       text NOT NULL,
    claimed_at  timestamptz NOT NULL,
    PRIMARY KEY (job, slot_time)
);

-- Each paper's first appearance on any Daily Papers list, numbered in commit order (the change log's lock
-- serialises these appends too): "the papers that entered the lists since a member's last DM" are the entries
-- after the member's position. A paper listed again on another day keeps its first entry.
CREATE TABLE list_entries (
    seq         bigint  GENERATED ALWAYS AS IDENTITY (CACHE 1) PRIMARY KEY,  -- the entry's position
    paper_id    text    COLLATE "C" NOT NULL UNIQUE,
    day         date    NOT NULL,                                    -- the list day it was first listed on
    entered_at  timestamptz NOT NULL                                 -- the fetch that first listed it
);
CREATE INDEX list_entries_day ON list_entries (day);

-- A member's follows. A follow belongs to the Discord user, whichever server it was made in.
CREATE TABLE follows (
    follow_id   bigint  GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint  NOT NULL,
    guild_id    bigint,                                              -- where it was made
    keywords    text[]  NOT NULL DEFAULT '{}',                       -- any of them
    author      text,                                                -- an author's name (with keywords: both)
    terms_key   text    COLLATE "C" NOT NULL,                        -- one follow per member per terms
    created_at  timestamptz NOT NULL,
    UNIQUE (user_id, terms_key)
);

-- Where each follower's DMs stand. Created with their first follow; kept when they unfollow everything.
CREATE TABLE follow_members (
    user_id        bigint PRIMARY KEY,
    covered_seq    bigint NOT NULL,                                  -- the newest list entry DMs have covered
    active_since   timestamptz NOT NULL,                             -- when following (re)started
    paused_reason  text,                                             -- e.g. their DMs are closed; NULL: not
    paused_at      timestamptz,
    last_dm_at     timestamptz
);

-- One record per (member, UTC date): the exactly-once guard of the daily DM, claimed under a lease before the
-- DM is sent and carrying its content, so another process or a restart sends the same DM.
CREATE TABLE follow_dms (
    user_id        bigint  NOT NULL,
    dm_date        date    NOT NULL,                                 -- the UTC date of the DM
    state          text    NOT NULL CHECK (state IN ('sending', 'sent', 'skipped', 'failed')),
    from_seq       bigint  NOT NULL,                                 -- covers list entries after this ...
    to_seq         bigint  NOT NULL,                                 -- ... up to this one
    payload        text    NOT NULL DEFAULT '[]',                    -- JSON: the papers and the follows matched
    owner          text,                                             -- the process holding a 'sending' record
    lease_until    timestamptz,                                      -- with no owner: when it may be retried
    attempts       integer NOT NULL DEFAULT 0,                       -- sends that failed transiently
    error          text,
    started_at     timestamptz NOT NULL,
    finished_at    timestamptz,
    PRIMARY KEY (user_id, dm_date)
);
CREATE INDEX follow_dms_state ON follow_dms (state);
