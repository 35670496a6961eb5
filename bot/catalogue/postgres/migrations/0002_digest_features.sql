-- The digest features beyond the daily post: a discussion thread per post, topic role pings, weekly recaps and
-- one edit of each post with settled upvotes. The same tables and rules as the SQLite backend's migration 0007.
-- Never edit this file once released: add 0003_... instead.

-- Every setting a slash command can give a subscription (the file's [[digest.channels]] keys of the same names).
ALTER TABLE digest_subscriptions
    ADD COLUMN thread              boolean NOT NULL DEFAULT false,
    ADD COLUMN pings               jsonb   NOT NULL DEFAULT '[]'      -- [{"role_id": …, "keywords": […]}]
        CHECK (jsonb_typeof(pings) = 'array'),
    ADD COLUMN update_after_hours  double precision NOT NULL DEFAULT 0 CHECK (update_after_hours >= 0),
    ADD COLUMN cadence             text    NOT NULL DEFAULT 'daily' CHECK (cadence IN ('daily', 'weekly')),
    ADD COLUMN weekday             integer NOT NULL DEFAULT 0 CHECK (weekday BETWEEN 0 AND 6);

-- Where a post was made (for a link to it without asking Discord), and its discussion thread: the thread's id
-- once started (on Discord, the id of the post's first message), or why it could not be started.
ALTER TABLE digest_posts
    ADD COLUMN guild_id      bigint,
    ADD COLUMN thread_id     bigint,
    ADD COLUMN thread_error  text;

-- When a part was edited with settled upvotes (NULL: not yet).
ALTER TABLE digest_post_parts ADD COLUMN edited_at timestamptz;

-- One settled-upvotes edit per post: written 'due' when the post is closed as posted, claimed under a lease with
-- the edited messages when it is made (so a process taking it over edits the same content), closed 'edited'.
CREATE TABLE digest_post_edits (
    channel_id   bigint  NOT NULL,
    local_date   date    NOT NULL,
    due_at       timestamptz NOT NULL,
    state        text    NOT NULL CHECK (state IN ('due', 'editing', 'edited', 'failed')),
    payload      text,                                               -- JSON of the edited messages, first claim's
    owner        text,                                               -- the process holding an 'editing' edit
    lease_until  timestamptz,                                        -- NULL once the edit is closed
    error        text,
    finished_at  timestamptz,
    PRIMARY KEY (channel_id, local_date),
    FOREIGN KEY (channel_id, local_date) REFERENCES digest_posts (channel_id, local_date) ON DELETE CASCADE
);
CREATE INDEX digest_post_edits_open ON digest_post_edits (state, due_at);
