-- The PostgreSQL catalogue: papers, the Daily Papers lists and their fetch record, the change log that feeds
-- every process's search views, facts about the catalogue, and the digest's subscriptions and post records.
-- The same tables and rules as the SQLite backend's migrations 0001-0004. Never edit this file once released:
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
-- Exact title lookups and autocomplete's prefix range (title_key >= key AND title_key < key || U+10FFFF).
CREATE INDEX papers_title_key ON papers (title_key);
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

-- One record per (channel, local date): the exactly-once guard. 'posting' is written before the first
-- message and carries the rendered messages, so a restart can finish or confirm the same post.
CREATE TABLE digest_posts (
    channel_id   bigint  NOT NULL,
    local_date   date    NOT NULL,                                   -- the channel's local date of the post
    list_day     date    NOT NULL,                                   -- the Daily Papers UTC day shown
    state        text    NOT NULL CHECK (state IN ('posting', 'posted', 'skipped', 'failed')),
    payload      text    NOT NULL DEFAULT '[]',                      -- JSON of the rendered messages
    message_ids  jsonb   NOT NULL DEFAULT '{}',                      -- part number -> message id
    error        text,
    started_at   timestamptz NOT NULL,
    finished_at  timestamptz,
    PRIMARY KEY (channel_id, local_date)
);
CREATE INDEX digest_posts_state ON digest_posts (state);
