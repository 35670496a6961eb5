-- The digest features beyond the daily post: a discussion thread per post, topic role pings, weekly recaps and
-- one edit of each post with settled upvotes.
-- Never edit this file once released: add 0008_… instead.

-- Every setting a slash command can give a subscription (the file's [[digest.channels]] keys of the same names).
ALTER TABLE digest_subscriptions ADD COLUMN thread INTEGER NOT NULL DEFAULT 0 CHECK (thread IN (0, 1));
ALTER TABLE digest_subscriptions ADD COLUMN pings TEXT NOT NULL DEFAULT '[]';   -- JSON [{role_id, keywords}]
ALTER TABLE digest_subscriptions ADD COLUMN update_after_hours REAL NOT NULL DEFAULT 0
    CHECK (update_after_hours >= 0);
ALTER TABLE digest_subscriptions ADD COLUMN cadence TEXT NOT NULL DEFAULT 'daily'
    CHECK (cadence IN ('daily', 'weekly'));
ALTER TABLE digest_subscriptions ADD COLUMN weekday INTEGER NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6);

-- Where a post was made (for a link to it without asking Discord), and its discussion thread: the thread's id
-- once started (on Discord, the id of the post's first message), or why it could not be started.
ALTER TABLE digest_posts ADD COLUMN guild_id INTEGER;
ALTER TABLE digest_posts ADD COLUMN thread_id INTEGER;
ALTER TABLE digest_posts ADD COLUMN thread_error TEXT;

-- When a part was edited with settled upvotes (NULL: not yet).
ALTER TABLE digest_post_parts ADD COLUMN edited_at TEXT;

-- One settled-upvotes edit per post: written 'due' when the post is closed as posted, claimed under a lease with
-- the edited messages when it is made (so a process taking it over edits the same content), closed 'edited'.
CREATE TABLE digest_post_edits (
    channel_id   INTEGER NOT NULL,
    local_date   TEXT    NOT NULL,
    due_at       TEXT    NOT NULL,                      -- ISO-8601 UTC
    state        TEXT    NOT NULL CHECK (state IN ('due', 'editing', 'edited', 'failed')),
    payload      TEXT,                                  -- JSON of the edited messages, from the first claim
    owner        TEXT,
    lease_until  TEXT,
    error        TEXT,
    finished_at  TEXT,
    PRIMARY KEY (channel_id, local_date),
    FOREIGN KEY (channel_id, local_date) REFERENCES digest_posts (channel_id, local_date) ON DELETE CASCADE
) WITHOUT ROWID;
CREATE INDEX digest_post_edits_open ON digest_post_edits (state, due_at);
