-- Digest subscriptions made with slash commands, per-channel digest state, and one record per post.
-- Never edit this file once released: add 0003_… instead.

-- Subscriptions made with /paper digest subscribe. A row for a channel that is also in the config file
-- overrides the file's settings for it (CONTRACT.md).
CREATE TABLE digest_subscriptions (
    channel_id   INTEGER PRIMARY KEY,
    guild_id     INTEGER,
    time         TEXT    NOT NULL,                     -- local HH:MM
    timezone     TEXT    NOT NULL,                     -- IANA name
    top_n        INTEGER NOT NULL CHECK (top_n BETWEEN 1 AND 25),
    min_upvotes  INTEGER NOT NULL CHECK (min_upvotes >= 0),
    keywords     TEXT    NOT NULL DEFAULT '[]',        -- JSON array of strings
    empty_days   TEXT    NOT NULL CHECK (empty_days IN ('skip', 'note', 'week')),
    created_at   TEXT    NOT NULL                      -- ISO-8601 UTC; posts are owed from here on
);

-- What the bot knows about any digest channel, whichever its source: when a running bot first saw a config
-- channel (it is owed posts from then on, never retroactively), and whether posting to it is failing.
CREATE TABLE digest_channel_state (
    channel_id      INTEGER PRIMARY KEY,
    first_seen      TEXT,                              -- ISO-8601 UTC; config channels only
    failing_reason  TEXT,
    failing_since   TEXT
);

-- One record per (channel, local date): the exactly-once guard. 'posting' is written before the first
-- message and carries the rendered messages, so a restart can finish or confirm the same post.
CREATE TABLE digest_posts (
    channel_id   INTEGER NOT NULL,
    local_date   TEXT    NOT NULL,                     -- the channel's local date of the post
    list_day     TEXT    NOT NULL,                     -- the Daily Papers UTC day shown
    state        TEXT    NOT NULL CHECK (state IN ('posting', 'posted', 'skipped', 'failed')),
    payload      TEXT    NOT NULL DEFAULT '[]',        -- JSON of the rendered messages
    message_ids  TEXT    NOT NULL DEFAULT '{}',        -- JSON object: part number -> message id
    error        TEXT,
    started_at   TEXT    NOT NULL,
    finished_at  TEXT,
    PRIMARY KEY (channel_id, local_date)
) WITHOUT ROWID;
CREATE INDEX digest_posts_state ON digest_posts (state);
